"""Cross-identity evaluation: every portrait animated by every driving clip, through the real pipeline
(offline, every frame rendered, no watermark), then measured with its own MediaPipe FaceLandmarker
(IMAGE mode: no tracking between images) on the driver's frames and on ours.

Per pair (driver frame i against output frame i):

- ``pose``: Pearson correlation of yaw, pitch and roll (degrees, from MediaPipe's facial transformation
  matrix), each, and their mean;
- ``mouth_corr`` / ``mouth_gain``: correlation of the jawOpen blendshape, and std(ours) / std(driver);
- ``blink_ratio``: blink amplitude (max minus median of the mean eyeBlink blendshape) ours / driver's;
  left out (None) when the driver does not blink (amplitude under 0.2);
- ``sharpness``: Laplacian variance of luma in the face's landmark box, ours (mean over frames) / the
  portrait's;
- ``bg_drift``: mean absolute grey-level difference, ours vs the portrait, over the pixels more than half a
  face size away from the portrait's face box (None when the face fills the frame);
- ``no_face``: output frames where the detector finds no face (left out of the correlations);
- ``driver_sd``, ``driver_jaw_range``, ``pose_gain``: how far the driver moves (yaw, pitch, roll standard
  deviations in degrees; jawOpen max - min), and std(ours) / std(driver) for yaw, pitch and roll. A driver that
  moves an axis by about MediaPipe's jitter (some 0.5 degrees, a jawOpen range under about 0.1) makes that
  axis' correlation a measure of noise; the evaluation prints each driver's motion before its pairs.

Faces are read near the animated face (in a group photo, the largest, found as the pipeline finds it).
Correlations of a driver series with no variation (std < 1e-3) are None. Writes ``OUT/cross.json`` and one
contact sheet per pair (``OUT/<portrait>__<driver>.png``: driver | ours on four late frames).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..realtime.landmarks import BLENDSHAPE
from ..realtime.media import video_frames

JAW_OPEN, BLINK_L, BLINK_R = "jawOpen", "eyeBlinkLeft", "eyeBlinkRight"
MIN_STD, MIN_BLINK = 1e-3, 0.2
TARGETS = {"pose": 0.9, "mouth_corr": 0.8, "mouth_gain": (0.7, 1.3), "blink_ratio": 0.7, "sharpness": 0.8,
           "bg_drift": 2.0}  # issue 12's targets


@dataclass
class FaceReading:
    box: tuple[float, float, float, float]  # landmark box, pixels
    ypr: tuple[float, float, float]  # yaw, pitch, roll, degrees
    jaw: float
    blink: float


def euler_deg(m: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees) of the rotation part of a 4x4 facial transformation matrix."""
    r = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0, keepdims=True)
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


class FaceReader:
    """IMAGE-mode landmarks with blendshapes and the transformation matrix (``ImageFaces``), a detector of its
    own, independent of the pipeline's."""

    def __enter__(self) -> "FaceReader":
        from ..realtime.landmarks import ImageFaces

        self._lm = ImageFaces(num_faces=1, extras=True).open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lm.close()

    def __call__(self, bgr: np.ndarray) -> FaceReading | None:
        face = self._lm.largest(bgr)
        if face is None or face.blendshapes is None or face.pose is None:
            return None
        x0, y0, x1, y1 = face.box()
        bs = face.blendshapes
        return FaceReading((float(x0), float(y0), float(x1), float(y1)), euler_deg(face.pose),
                           float(bs[BLENDSHAPE[JAW_OPEN]]), 0.5 * float(bs[BLENDSHAPE[BLINK_L]] + bs[BLENDSHAPE[BLINK_R]]))


def corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() < MIN_STD or b.std() < MIN_STD:
        return None if a.std() < MIN_STD else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def laplacian_var(bgr: np.ndarray, box: tuple[float, float, float, float]) -> float:
    h, w = bgr.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    grey = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()) if grey.size else float("nan")


def away_from_head(shape: tuple[int, int], box: tuple[float, float, float, float], margin: float = 0.5) -> np.ndarray:
    """HxW bool: pixels more than ``margin`` face sizes outside the face's landmark box."""
    h, w = shape
    x0, y0, x1, y1 = box
    m = margin * math.sqrt((x1 - x0) * (y1 - y0))
    yy, xx = np.mgrid[:h, :w]
    return (xx < x0 - m) | (xx > x1 + m) | (yy < y0 - m) | (yy > y1 + m)


@dataclass
class PairResult:
    portrait: str
    driver: str
    frames: int
    no_face: int
    pose: float | None
    yaw: float | None
    pitch: float | None
    roll: float | None
    mouth_corr: float | None
    mouth_gain: float | None
    blink_ratio: float | None
    sharpness: float | None
    bg_drift: float | None
    # how far the driver moves (over the scored frames): a correlation on an axis the driver barely moves
    # (a standard deviation near MediaPipe's jitter, about 0.5 degrees) measures noise more than the output
    driver_sd: tuple[float, float, float] | None = None   # yaw, pitch, roll standard deviations, degrees
    driver_jaw_range: float | None = None                 # jawOpen, max - min
    pose_gain: tuple[float, float, float] | None = None   # output / driver standard deviation, yaw, pitch, roll


def _mean(xs: list[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def face_region(image: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.75
                ) -> tuple[slice, slice]:
    """The animated face's neighbourhood: its landmark box grown by ``margin`` face sizes, inside the image.
    Readings are taken there, so a group photo is measured on the face that is animated."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    m = margin * math.sqrt((x1 - x0) * (y1 - y0))
    return (slice(max(int(y0 - m), 0), min(int(y1 + m), h)), slice(max(int(x0 - m), 0), min(int(x1 + m), w)))


def score_pair(portrait: str, driver: str, portrait_img: np.ndarray, face_box: tuple[float, float, float, float],
               drv: list[FaceReading | None], ours: list[np.ndarray], read: FaceReader) -> PairResult:
    """Measure one rendered pair: ``face_box`` the animated face in the portrait, ``drv`` the driver's
    readings, ``ours`` the output frames (same indices)."""
    region = face_region(portrait_img, face_box)
    ref = read(portrait_img[region])
    if ref is None:
        raise RuntimeError(f"{portrait}: no face found near the animated face")
    out = [read(o[region]) for o in ours]
    ok = [i for i, (d, o) in enumerate(zip(drv, out)) if d is not None and o is not None]
    d = [drv[i] for i in ok]
    o = [out[i] for i in ok]
    ypr_d, ypr_o = np.array([r.ypr for r in d]).reshape(-1, 3), np.array([r.ypr for r in o]).reshape(-1, 3)
    pose = [corr(ypr_d[:, k], ypr_o[:, k]) for k in range(3)]
    jaw_d, jaw_o = np.array([r.jaw for r in d]), np.array([r.jaw for r in o])
    bl_d, bl_o = np.array([r.blink for r in d]), np.array([r.blink for r in o])
    amp = lambda x: float(x.max() - np.median(x)) if len(x) else 0.0  # noqa: E731
    sharp = [laplacian_var(ours[i][region], out[i].box) for i in ok]
    sharp_ref = laplacian_var(portrait_img[region], ref.box)
    h = min(portrait_img.shape[0], ours[0].shape[0])
    w = min(portrait_img.shape[1], ours[0].shape[1])
    away = away_from_head((h, w), face_box)
    grey_ref = cv2.cvtColor(portrait_img[:h, :w], cv2.COLOR_BGR2GRAY).astype(np.float32)
    drift = [float(np.abs(cv2.cvtColor(x[:h, :w], cv2.COLOR_BGR2GRAY).astype(np.float32) - grey_ref)[away].mean())
             for x in ours] if away.any() else []
    result = PairResult(
        portrait, driver, len(ours), sum(r is None for r in out), _mean(pose), *pose,
        corr(jaw_d, jaw_o), float(jaw_o.std() / jaw_d.std()) if len(ok) and jaw_d.std() >= MIN_STD else None,
        amp(bl_o) / amp(bl_d) if amp(bl_d) >= MIN_BLINK else None,
        float(np.nanmean(sharp) / sharp_ref) if sharp and sharp_ref > 0 else None,
        float(np.mean(drift)) if drift else None,
        tuple(float(v) for v in ypr_d.std(axis=0)) if len(ok) else None,
        float(np.ptp(jaw_d)) if len(ok) else None,
        tuple(float(o / d) if d >= MIN_STD else None for o, d in zip(ypr_o.std(axis=0), ypr_d.std(axis=0)))
        if len(ok) else None)
    return result


def render_pair(portrait: Path, driver: Path, frames: int, calibrate: str, backend: str = "ort",
                config: str = "lite") -> list[np.ndarray]:
    """Animate ``portrait`` with the first ``frames`` frames of ``driver`` -> output frames (copies)."""
    from ..realtime.pipeline import Pipeline, PipelineOptions

    outputs: dict[int, np.ndarray] = {}

    def keep(frame) -> None:
        if frame.kind in ("generated", "held"):
            outputs[frame.source_index] = frame.image.copy()

    options = PipelineOptions(portrait=portrait, driving=driver, realtime=False, output="null", backend=backend,
                              config=config, calibrate=calibrate, watermark=False, detector=False,
                              max_frames=frames)
    with Pipeline(options, on_output=keep) as pipe:
        pipe.run()
    return [outputs[i] for i in sorted(outputs)]


def read_clip(clip: Path, frames: int) -> list[np.ndarray]:
    return list(video_frames(clip, limit=frames))


def write_pair_sheet(path: Path, drv: list[np.ndarray], ours: list[np.ndarray], region: tuple[slice, slice],
                     tile: int = 192) -> None:
    """Driver | ours (cut to the animated face's ``region``) on four late frames (a third, half, three
    quarters and the last), PNG."""
    n = min(len(drv), len(ours))
    rows = []
    for i in sorted({n // 3, n // 2, 3 * n // 4, n - 1}):
        pair = []
        for im in (drv[i], ours[i][region]):
            s = tile / max(im.shape[:2])
            pair.append(cv2.copyMakeBorder(cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), 0,
                                           tile - int(im.shape[0] * s), 0, tile - int(im.shape[1] * s),
                                           cv2.BORDER_CONSTANT))
            pair[-1] = pair[-1][:tile, :tile]
        rows.append(np.concatenate(pair, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(rows, 0), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def evaluate_cross(portraits: list[Path], drivers: list[Path], out_dir: Path, frames: int = 120,
                   calibrate: str = "neutral", backend: str = "ort", progress=print) -> list[PairResult]:
    from ..realtime.portrait import prepare_portrait

    results = []
    # each portrait as the pipeline renders it (fitted to its output size) and its face box there
    prepared = {p: prepare_portrait(p, 256) for p in portraits}
    faces = {p: prepared[p].landmarks.box() for p in portraits}
    with FaceReader() as read:
        for driver in drivers:
            drv_frames = read_clip(driver, frames)
            drv = [read(f) for f in drv_frames]
            seen = [r for r in drv if r is not None]
            if seen:
                ypr, jaw = np.array([r.ypr for r in seen]), np.array([r.jaw for r in seen])
                sd = "/".join(f"{v:.1f}" for v in ypr.std(axis=0))
                progress(f"{driver.name}: the driver moves: yaw/pitch/roll sd {sd} degrees, "
                         f"jawOpen range {np.ptp(jaw):.2f}")
            for portrait in portraits:
                ours = render_pair(portrait, driver, len(drv_frames), calibrate, backend)
                n = min(len(ours), len(drv))
                try:
                    res = score_pair(portrait.name, driver.name, prepared[portrait].image, faces[portrait], drv[:n],
                                     ours[:n], read)
                except RuntimeError as exc:  # one unreadable pair does not lose the others
                    progress(f"{portrait.name} x {driver.name}: skipped: {exc}")
                    continue
                write_pair_sheet(out_dir / f"{portrait.stem}__{driver.stem}.png", drv_frames, ours,
                                 face_region(ours[0], faces[portrait]))
                results.append(res)
                progress(format_row(res))
    return results


def _f(x: float | None, spec: str = "6.2f") -> str:
    return format(x, spec) if x is not None else " " * (int(spec.split(".")[0]) - 2) + "--"


def format_row(r: PairResult) -> str:
    return (f"{r.portrait[:28]:28s} {r.driver[:28]:28s} {r.frames:4d} {r.no_face:3d} {_f(r.pose)} {_f(r.yaw)} "
            f"{_f(r.pitch)} {_f(r.roll)} {_f(r.mouth_corr)} {_f(r.mouth_gain)} {_f(r.blink_ratio)} "
            f"{_f(r.sharpness)} {_f(r.bg_drift)}")


HEADER = (f"{'portrait':28s} {'driver':28s} {'n':>4s} {'nf':>3s} {'pose':>6s} {'yaw':>6s} {'pitch':>6s} "
          f"{'roll':>6s} {'mouthr':>6s} {'gain':>6s} {'blink':>6s} {'sharp':>6s} {'drift':>6s}")


def summarize(results: list[PairResult]) -> dict:
    """Median of every measure over the pairs, and how many pairs meet each target."""
    out = {}
    for key in ("pose", "mouth_corr", "mouth_gain", "blink_ratio", "sharpness", "bg_drift"):
        vals = [getattr(r, key) for r in results if getattr(r, key) is not None]
        t = TARGETS[key]
        meets = [(t[0] <= v <= t[1]) if isinstance(t, tuple) else (v <= t if key == "bg_drift" else v >= t)
                 for v in vals]
        out[key] = {"median": float(np.median(vals)) if vals else None, "pairs": len(vals),
                    "meet_target": int(sum(meets)), "target": t}
    return out


def to_json(results: list[PairResult], frames: int, calibrate: str) -> dict:
    return {"schema": "mimicam.crosseval/1", "frames": frames, "calibrate": calibrate,
            "summary": summarize(results), "pairs": [asdict(r) for r in results]}


MEASURES = ("pose", "mouth_corr", "mouth_gain", "blink_ratio", "sharpness", "bg_drift")


def compare(before: dict, after: dict, resamples: int = 2000, seed: int = 0) -> dict:
    """Two ``cross.json`` documents of the same pairs -> per measure: both medians, the mean paired change
    (after - before) with a 95% bootstrap interval over the pairs, the mean absolute change, and how many pairs
    meet the target in each. A median of a few dozen pairs jumps where the pairs leave gaps; the paired mean
    says whether the change moved the pairs, and which way."""
    key = lambda r: (r["portrait"], r["driver"])  # noqa: E731
    a, b = {key(r): r for r in before["pairs"]}, {key(r): r for r in after["pairs"]}
    rng = np.random.default_rng(seed)
    out = {}
    for m in MEASURES:
        common = [k for k in a if k in b and a[k].get(m) is not None and b[k].get(m) is not None]
        if not common:
            continue
        d = np.array([b[k][m] - a[k][m] for k in common], np.float64)
        boot = d[rng.integers(0, len(d), (resamples, len(d)))].mean(1)
        out[m] = {"pairs": len(common),
                  "median_before": float(np.median([a[k][m] for k in common])),
                  "median_after": float(np.median([b[k][m] for k in common])),
                  "mean_change": float(d.mean()),
                  "interval_95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                  "mean_abs_change": float(np.abs(d).mean()),
                  "meet_before": before["summary"][m]["meet_target"], "meet_after": after["summary"][m]["meet_target"]}
    return out


def format_compare(res: dict) -> str:
    rows = [f"{'measure':12s} {'pairs':>5s} {'median A':>9s} {'median B':>9s} {'mean B-A':>9s} "
            f"{'95% interval':>18s} {'mean |B-A|':>10s} {'meet A -> B':>12s}"]
    for m, r in res.items():
        lo, hi = r["interval_95"]
        rows.append(f"{m:12s} {r['pairs']:5d} {r['median_before']:9.3f} {r['median_after']:9.3f} "
                    f"{r['mean_change']:+9.3f} {f'[{lo:+.3f}, {hi:+.3f}]':>18s} {r['mean_abs_change']:10.3f} "
                    f"{str(r['meet_before']) + ' -> ' + str(r['meet_after']):>12s}")
    return "\n".join(rows)

