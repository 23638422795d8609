"""Self-reenactment evaluation: each driving clip animates its own first frame, through the real pipeline.

For every clip, the portrait is the clip's first frame and the driving video is the clip itself (offline,
every frame rendered, calibrated on the first frame, no watermark). Output frame i is compared with real
frame i, and so is the static baseline (the first frame repeated):

- ``landmark``: mean distance between MediaPipe landmarks (478 points, a fresh IMAGE-mode detector on every
  image) divided by the face size, sqrt(width x height) of the real frame's landmark box; frames where the
  detector finds no face in the compared image are counted in ``no_face`` and left out of the mean;
- ``l1``: mean absolute difference of RGB in [0, 1];
- ``ssim``: SSIM of luma (BT.601 Y in [0, 1]; Gaussian window, sigma 1.5, 11x11; C1 = 0.01^2, C2 = 0.03^2).

L1 and SSIM leave out the rectangle of the "SYNTHETIC" badge (bottom-left of our output), for static and
ours alike (SSIM also the pixels whose window reaches into it). ``--frames N --stride S`` renders the first
N*S frames and scores every S-th one (frame 0 excluded: it is the portrait). Writes ``OUT/evaluate.json``
(per-clip numbers, ratios to static, pass/fail against issue 2's bar) and one contact sheet per clip
(``OUT/<clip>.png``: real | static | ours on the frames of largest motion, cropped around the face).

    python -m mimicam.tools.evaluate --clips /work/shared/data/driving --out out/eval --frames 150 --stride 2

With ``--portraits``, the cross-identity mode instead (``crosseval.py``): every portrait x every clip, scored on
pose, mouth, blink, sharpness and background drift against the driver (``OUT/cross.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..realtime.media import is_image, video_frames, videos_in

SSIM_C1, SSIM_C2, SSIM_SIGMA = 0.01 ** 2, 0.03 ** 2, 1.5
TILE = 224  # contact sheet tile side, pixels
SHEET_MAX_BYTES = 300_000
BAR = {"landmark_ratio_max": 0.3, "l1_ratio_max": 0.9, "ssim_gain_min": 0.02}  # issue 2's quality bar
BAR_LEGEND = (f"bar: one sign per test of the quality bar, + passed, - failed: landmark ratio <= "
              f"{BAR['landmark_ratio_max']:g}, L1 ratio <= {BAR['l1_ratio_max']:g}, SSIM gain >= "
              f"{BAR['ssim_gain_min']:g} (ratios: ours / static portrait; lower is better)")


# --- metrics on images (pure numpy / OpenCV) ------------------------------------------------------------
def luma(bgr: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 BGR -> HxW float64 BT.601 luma in [0, 1]."""
    b, g, r = (bgr[..., i].astype(np.float64) / 255.0 for i in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two HxW float images in [0, 1] (Gaussian window, sigma 1.5, 11x11)."""
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a ** 2 + mu_b ** 2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return num / den


def ssim(a: np.ndarray, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Luma SSIM of two BGR uint8 images, averaged where ``keep`` (HxW bool) is true."""
    m = ssim_map(luma(a), luma(b))
    return float(m.mean() if keep is None else m[keep].mean())


def l1(a: np.ndarray, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Mean absolute difference of two uint8 images on [0, 1], over the pixels where ``keep`` is true."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(-1) / 255.0
    return float(d.mean() if keep is None else d[keep].mean())


def badge_keep_mask(width: int, height: int) -> np.ndarray:
    """HxW bool: False on the rectangle the badge covers in a frame of this size (found by drawing it)."""
    from ..realtime.badge import Badge

    badge = Badge()
    lo = badge.draw(np.zeros((height, width, 3), np.uint8))
    hi = badge.draw(np.full((height, width, 3), 255, np.uint8))
    covered = (lo == hi).all(-1)
    keep = np.ones((height, width), bool)
    ys, xs = np.nonzero(covered)
    if len(ys):
        keep[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = False
    return keep


def window_keep(keep: np.ndarray) -> np.ndarray:
    """``keep`` less the pixels whose 11x11 SSIM window reaches into the left-out area."""
    return cv2.erode(keep.astype(np.uint8), np.ones((11, 11), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0


def face_size(xy: np.ndarray) -> float:
    """sqrt(width x height) of the landmark box, pixels."""
    w, h = xy.max(0) - xy.min(0)
    return float(np.sqrt(max(w * h, 1e-9)))


def landmark_distance(xy: np.ndarray, ref: np.ndarray) -> float:
    """Mean point distance between two (N, 2) landmark sets, in units of the reference face size."""
    return float(np.linalg.norm(xy - ref, axis=1).mean() / face_size(ref))


def pick_largest(motion: dict[int, float], k: int, min_gap: int) -> list[int]:
    """The k frames of largest motion, at least ``min_gap`` frames apart, in time order."""
    chosen: list[int] = []
    for i in sorted(motion, key=motion.get, reverse=True):
        if all(abs(i - j) >= min_gap for j in chosen):
            chosen.append(i)
        if len(chosen) == k:
            break
    return sorted(chosen)


# --- faces, clips, rendering ------------------------------------------------------------------------------
class FaceLandmarks:
    """A fresh IMAGE-mode MediaPipe detector (no tracking between the images it is shown)."""

    def __enter__(self) -> "FaceLandmarks":
        from ..realtime.landmarks import ImageFaces

        self._lm = ImageFaces(num_faces=1).open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lm.close()

    def __call__(self, bgr: np.ndarray) -> np.ndarray | None:
        face = self._lm.largest(bgr)
        return None if face is None else face.xy.astype(np.float64)


def read_frames(clip: Path, indices: set[int], last: int) -> dict[int, np.ndarray]:
    """The clip's frames whose index is in ``indices`` (decoding stops after ``last``)."""
    wanted = sorted(i for i in indices if i <= last)
    return dict(zip(wanted, video_frames(clip, keep=set(wanted))))


def render_self(clip: Path, first: np.ndarray, indices: set[int], max_frames: int, backend: str = "ort",
                config: str = "lite") -> dict[int, np.ndarray]:
    """Animate the clip's first frame with the clip itself -> {frame index: output copy} for ``indices``."""
    from ..realtime.pipeline import Pipeline, PipelineOptions

    outputs: dict[int, np.ndarray] = {}

    def keep(frame) -> None:  # the pipeline reuses frame.image: copy what we keep
        if frame.source_index in indices and frame.kind == "generated":
            outputs[frame.source_index] = frame.image.copy()

    with tempfile.TemporaryDirectory() as tmp:
        portrait = Path(tmp) / "portrait.png"
        cv2.imwrite(str(portrait), first)
        h, w = first.shape[:2]
        # the output at the clip's own size (even), so that frame i is compared pixel for pixel with real
        # frame i: render's size policy would scale a 512-px clip up to 720
        options = PipelineOptions(portrait=portrait, driving=clip, realtime=False, output="null", backend=backend,
                                  config=config, calibrate="first", watermark=False, detector=False,
                                  max_frames=max_frames, size=(w - w % 2, h - h % 2))
        with Pipeline(options, on_output=keep) as pipe:
            pipe.run()
    return outputs


# --- per clip ---------------------------------------------------------------------------------------------
@dataclass
class Scores:
    landmark: float = float("nan")
    l1: float = float("nan")
    ssim: float = float("nan")
    no_face: int = 0


@dataclass
class ClipResult:
    clip: str
    frames: int
    static: Scores
    ours: Scores
    ratios: dict[str, float] = field(default_factory=dict)
    sheet_frames: list[int] = field(default_factory=list)

    @property
    def passes(self) -> dict[str, bool]:
        q = self.ratios
        return {"landmark": bool(q["landmark"] <= BAR["landmark_ratio_max"]),
                "l1": bool(q["l1"] <= BAR["l1_ratio_max"]), "ssim": bool(q["ssim_gain"] >= BAR["ssim_gain_min"])}

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["passes"] = self.passes
        return _no_nan(doc)


def _no_nan(x):
    """NaN (no frame had a face) -> None, so the document is strict JSON."""
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return None if isinstance(x, float) and x != x else x


def _common(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return a[:h, :w], b[:h, :w]


def _score(pairs: list[tuple[np.ndarray, np.ndarray]], lms: list[np.ndarray | None], refs: list[np.ndarray],
           keep: np.ndarray) -> Scores:
    l1s, ssims = [], []
    for img, real in pairs:
        img, real = _common(img, real)
        k = keep[: img.shape[0], : img.shape[1]]
        l1s.append(l1(img, real, k))
        ssims.append(ssim(img, real, window_keep(k)))
    dists = [landmark_distance(lm, ref) for lm, ref in zip(lms, refs) if lm is not None]
    return Scores(float(np.mean(dists)) if dists else float("nan"), float(np.mean(l1s)), float(np.mean(ssims)),
                  sum(lm is None for lm in lms))


def evaluate_clip(clip: Path, out_dir: Path, frames: int = 150, stride: int = 2, rows: int = 4,
                  backend: str = "ort", sheet_bytes: int = SHEET_MAX_BYTES) -> ClipResult:
    """Render, score and draw the contact sheet of one clip."""
    last = frames * stride
    indices = set(range(stride, last + 1, stride))
    real = read_frames(clip, indices | {0}, last)
    first = real.pop(0)
    ours = render_self(clip, first, indices, last + 1, backend)
    idx = sorted(i for i in real if i in ours)
    if not idx:
        raise RuntimeError(f"{clip}: no frames to compare")
    keep = badge_keep_mask(ours[idx[0]].shape[1], ours[idx[0]].shape[0])
    with FaceLandmarks() as detect:
        lm_first = detect(first)
        refs = [detect(real[i]) for i in idx]
        ok = [i for i, r in zip(idx, refs) if r is not None]
        refs = [r for r in refs if r is not None]
        lm_ours = [detect(ours[i]) for i in ok]
    static = _score([(first, real[i]) for i in idx], [lm_first] * len(ok), refs, keep)
    mine = _score([(ours[i], real[i]) for i in idx], lm_ours, refs, keep)
    ratios = {"landmark": mine.landmark / static.landmark, "l1": mine.l1 / static.l1,
              "ssim_gain": mine.ssim - static.ssim}
    motion = {i: landmark_distance(lm_first, r) for i, r in zip(ok, refs)}
    chosen = pick_largest(motion, rows, max(len(idx) // (2 * rows), 1) * stride)
    write_sheet(out_dir / f"{clip.stem}.png", [(i, real[i], first, ours[i]) for i in chosen],
                {i: r for i, r in zip(ok, refs)}, lm_first, sheet_bytes)
    return ClipResult(clip.name, len(idx), static, mine, ratios, chosen)


# --- contact sheet ----------------------------------------------------------------------------------------
def _crop_box(boxes: list[np.ndarray], w: int, h: int) -> tuple[int, int, int]:
    """Square (x0, y0, side) around the union of landmark sets, with room for hair, inside the image."""
    pts = np.concatenate(boxes)
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    side = int(min(max(x1 - x0, y1 - y0) * 1.9, w, h))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.12 * side
    bx = int(np.clip(cx - side / 2, 0, w - side))
    by = int(np.clip(cy - side / 2, 0, h - side))
    return bx, by, side


def write_sheet(path: Path, rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
                real_lms: dict[int, np.ndarray], lm_first: np.ndarray, max_bytes: int = SHEET_MAX_BYTES) -> None:
    """One row per frame: real | static | ours, cropped around the face; PNG shrunk to under max_bytes."""
    lines = []
    for i, real, static, ours in rows:
        h, w = min(real.shape[0], ours.shape[0]), min(real.shape[1], ours.shape[1])
        x, y, s = _crop_box([lm_first, real_lms[i]], w, h)
        tiles = [cv2.resize(im[y:y + s, x:x + s], (TILE, TILE), interpolation=cv2.INTER_AREA)
                 for im in (real, static, ours)]
        for t, label in zip(tiles, (f"real #{i}", "static", "ours")):
            cv2.putText(t, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(t, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        lines.append(np.concatenate(tiles, 1))
    sheet = np.concatenate(lines, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        ok, buf = cv2.imencode(".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise RuntimeError(f"cannot encode {path}")
        if len(buf) <= max_bytes or sheet.shape[1] < 96:
            break
        sheet = cv2.resize(sheet, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA)
    path.write_bytes(buf.tobytes())


# --- command line -----------------------------------------------------------------------------------------
def find_clips(items: list[Path]) -> list[Path]:
    clips: list[Path] = []
    for p in items:
        clips += videos_in(p) if p.is_dir() else [p]
    return clips


def format_table(results: list[ClipResult]) -> str:
    head = f"{'clip':40s} {'n':>4s} {'lmk st/ours':>15s} {'ratio':>6s} {'L1 st/ours':>15s} {'ratio':>6s} " \
           f"{'SSIM st/ours':>13s} {'gain':>7s}  bar"
    rows = [head]
    for r in results:
        s, o, q = r.static, r.ours, r.ratios
        rows.append(f"{r.clip[:40]:40s} {r.frames:4d} {s.landmark:7.4f}/{o.landmark:7.4f} {q['landmark']:6.3f} "
                    f"{s.l1:7.4f}/{o.l1:7.4f} {q['l1']:6.3f} {s.ssim:6.4f}/{o.ssim:6.4f} {q['ssim_gain']:+7.4f}  "
                    + "".join("+" if ok else "-" for ok in r.passes.values()))
    return "\n".join(rows)


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", nargs="+", type=Path, help="driving clips, or folders of clips (required)")
    p.add_argument("--out", type=Path, help="folder for evaluate.json and the contact sheets (required)")
    p.add_argument("--frames", type=int, default=150, help="frames scored per clip (default 150)")
    p.add_argument("--stride", type=int, default=2, help="score every S-th frame (default 2)")
    p.add_argument("--backend", default="ort", help="generator backend (default ort)")
    p.add_argument("--sheet-kb", type=int, default=SHEET_MAX_BYTES // 1000,
                   help="contact sheets are shrunk until their PNG is under this size (default 300)")
    p.add_argument("--portraits", nargs="+", type=Path,
                   help="cross-identity mode: animate these portraits (files or folders) with every clip, "
                        "and score pose, mouth, blink, sharpness and background drift (OUT/cross.json)")
    p.add_argument("--calibrate", default="neutral", choices=("neutral", "first", "steady"),
                   help="cross-identity mode: the driver's reference frame (default neutral)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                   help="only: compare two cross.json files of the same pairs (medians, the mean paired change "
                        "with a 95%% bootstrap interval, pairs meeting the targets)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``mimicam evaluate`` (for the CLI dispatcher)."""
    p = subparsers.add_parser("evaluate", help="self-reenactment quality vs the static baseline, with contact sheets")
    _add_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.errors import InputError

    if getattr(args, "compare", None):   # a Namespace built by a caller may not have it
        from . import crosseval

        docs = []
        for path in args.compare:
            try:
                docs.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read {path}: {exc}", "give two cross.json files written by "
                                 "'mimicam evaluate --portraits ...'") from exc
        print(crosseval.format_compare(crosseval.compare(*docs)))
        return 0
    if not args.clips or not args.out:
        raise InputError("evaluate needs --clips and --out", "or --compare A.json B.json")
    clips = find_clips(args.clips)
    if not clips:
        raise InputError(f"no video clips in {' '.join(map(str, args.clips))}", "give .mp4 files or folders of them")
    from .progress import bar, write

    if args.portraits:
        return run_cross(args, clips)
    results = []
    print(format_table([]), flush=True)  # the header; each clip's row follows as soon as it is scored
    with bar(len(clips), "evaluate", "clip") as shown:
        for clip in clips:
            results.append(evaluate_clip(clip, args.out, args.frames, args.stride, backend=args.backend,
                                         sheet_bytes=args.sheet_kb * 1000))
            write(format_table(results[-1:]).splitlines()[1])
            shown.update(1)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"schema": "mimicam.evaluate/1", "frames": args.frames, "stride": args.stride,
           "excluded": "badge rectangle (bottom-left) left out of L1 and SSIM (SSIM: plus its 5-px window "
                       "margin), for static and ours alike",
           "bar": BAR,
           "clips": [r.to_json() for r in results]}
    (args.out / "evaluate.json").write_text(json.dumps(doc, indent=2))
    print(BAR_LEGEND)
    return 0


def run_cross(args: argparse.Namespace, clips: list[Path]) -> int:
    from ..realtime.errors import InputError
    from . import crosseval

    portraits = [q for p in args.portraits for q in (sorted(x for x in p.iterdir() if is_image(x))
                                                     if p.is_dir() else [p])]
    if not portraits:
        raise InputError(f"no images in {' '.join(map(str, args.portraits))}", "give image files or folders of them")
    print(crosseval.HEADER, flush=True)
    results = crosseval.evaluate_cross(portraits, clips, args.out, args.frames, args.calibrate, args.backend,
                                       progress=lambda row: print(row, flush=True))
    doc = crosseval.to_json(results, args.frames, args.calibrate)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cross.json").write_text(json.dumps(doc, indent=2))
    for key, v in doc["summary"].items():
        print(f"{key:12s} median {v['median'] if v['median'] is None else round(v['median'], 3)!s:>7s}   "
              f"{v['meet_target']}/{v['pairs']} pairs meet {v['target']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from ..realtime.errors import MimicamError

    p = argparse.ArgumentParser(prog="python -m mimicam.tools.evaluate", description=__doc__.split("\n")[0])
    _add_args(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except MimicamError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
