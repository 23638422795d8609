"""Provenance benchmark: the attack suite of issue 13, on frames emitted by the real pipeline.

    python -m mimicam.tools.provenance_bench [--quick] [--clips N] [--seconds S] [--json OUT]

Clips: shared portraits x shared driving clips, rendered offline by ``Pipeline`` (null sink, watermark
on, attributed mode, a throw-away key); each portrait keeps its own output size. Each attack is applied
to every clip and ``mimicam verify``'s verdict is taken per clip (30-frame windows, full search: the
verifier is told nothing). Transplants (payload replay, blind copy, another key's mark) go onto real
clips and must never be valid. False positives: real and train clips, one window at a time, full search.
Real material from /work/shared/data (tests only: nothing made here is shipped).
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from ..realtime.provenance import binding as B
from ..realtime.provenance import ecc
from ..realtime.provenance import pattern as P
from ..realtime.provenance.check import EXITS
from ..realtime.provenance.verifier import MarkVerifier
from ..realtime.provenance.watermark import Watermarker

DATA = Path("/work/shared/data")
WINDOW = 30
KEY_B = b"B" * 32


# -- clips ----------------------------------------------------------------------------------------
def render(portrait: str, driving: str, frames: int) -> tuple[list[np.ndarray], tuple[int, int, int, int], float]:
    """Emitted frames of the offline pipeline, the paste box (x0, y0, x1, y1) and the clip's fps."""
    from ..realtime.pipeline import Pipeline, PipelineOptions

    out: list[np.ndarray] = []
    options = PipelineOptions(portrait=portrait, driving=driving, output="null", backend="ort", realtime=False,
                              max_frames=frames, detector=False)
    with Pipeline(options, on_output=lambda f: out.append(f.image.copy())) as pipe:
        pipe.run()
        c = pipe.compositor
        box, fps = (c.ix0, c.iy0, c.ix1, c.iy1), pipe.fps
    return out, box, fps


def read_clip(path: str, n: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA) if size else f)
    cap.release()
    return out


# -- attacks --------------------------------------------------------------------------------------
def _fit(f: np.ndarray, w: int, h: int) -> np.ndarray:
    """Letterbox into w x h (what a call app does), aspect kept."""
    k = min(w / f.shape[1], h / f.shape[0])
    small = cv2.resize(f, (max(2, round(f.shape[1] * k)), max(2, round(f.shape[0] * k))),
                       interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def codec(frames: list[np.ndarray], name: str, kbit: int, size: tuple[int, int], fps: float = 30.0,
          generations: int = 1) -> list[np.ndarray]:
    import av

    for _ in range(generations):
        buf = io.BytesIO()
        with av.open(buf, "w", format="webm" if "vpx" in name else "mp4") as out:
            st = out.add_stream(name, rate=round(fps))
            st.width, st.height, st.pix_fmt, st.bit_rate = size[0], size[1], "yuv420p", kbit * 1000
            for f in frames:
                fr = _fit(f, *size) if f.shape[:2] != (size[1], size[0]) else f
                for pkt in st.encode(av.VideoFrame.from_ndarray(fr, format="bgr24")):
                    out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)
        buf.seek(0)
        with av.open(buf) as inp:
            frames = [fr.to_ndarray(format="bgr24") for fr in inp.decode(video=0)]
    return frames


def _warp(f: np.ndarray, m: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    if m.shape == (2, 3):
        return cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return cv2.warpPerspective(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _per_frame(fn):
    return lambda frames, ctx: [fn(f) for f in frames]


def _crop(f, fx, fy):
    h, w = f.shape[:2]
    return np.ascontiguousarray(f[int(h * fy): h - int(h * fy), int(w * fx): w - int(w * fx)])


def _aspect(f):
    """16:9 <-> 4:3: the centre cut to the other aspect."""
    h, w = f.shape[:2]
    target = 4 / 3 if w / h > 1.55 else 16 / 9
    if w / h > target:
        nw = int(h * target)
        return np.ascontiguousarray(f[:, (w - nw) // 2:(w - nw) // 2 + nw])
    nh = int(w / target)
    return np.ascontiguousarray(f[(h - nh) // 2:(h - nh) // 2 + nh])


def _perspective(f):
    h, w = f.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    d = 0.03
    dst = np.float32([[w * d, h * d], [w * (1 - d / 2), 0], [w, h], [0, h * (1 - d)]])
    return _warp(f, cv2.getPerspectiveTransform(src, dst))


def _gallery(frames, ctx):
    """3x3 call gallery at 1280x720, our clip in the centre tile, real people in the others."""
    others = ctx["gallery"]
    out = []
    for i, f in enumerate(frames):
        canvas = np.zeros((720, 1280, 3), np.uint8)
        for k in range(9):
            tile = f if k == 4 else others[k % len(others)][i % len(others[k % len(others)])]
            y, x = (k // 3) * 240, (k % 3) * 426
            canvas[y:y + 240, x:x + 426] = _fit(tile, 426, 240)
        out.append(canvas)
    return out


def _face(frames, ctx):
    x0, y0, x1, y1 = ctx["box"]
    return [np.ascontiguousarray(f[y0:y1, x0:x1]) for f in frames]


def _saturation(f, k=1.4):
    hsv = cv2.cvtColor(f, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * k, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def _sharpen(f):
    blur = cv2.GaussianBlur(f, (0, 0), 1.5)
    return cv2.addWeighted(f, 1.6, blur, -0.6, 0)


def _rot(deg):
    def fn(f):
        h, w = f.shape[:2]
        return _warp(f, cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0))
    return fn


def _scale(k):
    return lambda f: cv2.resize(f, (round(f.shape[1] * k), round(f.shape[0] * k)),
                                interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


_LUT_GAMMA = (255 * (np.arange(256) / 255.0) ** 0.75).astype(np.uint8)

ATTACKS = {
    "untouched": lambda frames, ctx: frames,
    "mirror": _per_frame(lambda f: np.ascontiguousarray(f[:, ::-1])),
    "crop 10% per side": _per_frame(lambda f: _crop(f, 0.1, 0.1)),
    "16:9 <-> 4:3": _per_frame(_aspect),
    "scale 0.33": _per_frame(_scale(0.33)),
    "scale 0.5": _per_frame(_scale(0.5)),
    "scale 1.5": _per_frame(_scale(1.5)),
    "scale 2.0": _per_frame(_scale(2.0)),
    "gallery tile (3x3 at 720p)": _gallery,
    "rotation 1 deg": _per_frame(_rot(1.0)),
    "rotation 3 deg": _per_frame(_rot(3.0)),
    "slight perspective": _per_frame(_perspective),
    "gamma 0.75": _per_frame(lambda f: cv2.LUT(f, _LUT_GAMMA)),
    "contrast 1.3": _per_frame(lambda f: cv2.convertScaleAbs(f, alpha=1.3, beta=-38)),
    "saturation 1.4": _per_frame(_saturation),
    "beauty (bilateral)": _per_frame(lambda f: cv2.bilateralFilter(f, 9, 40, 5)),
    "sharpen": _per_frame(_sharpen),
    "H.264 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libx264", 1000, (1280, 720), ctx["fps"]),
    "VP8 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libvpx", 1000, (1280, 720), ctx["fps"]),
    "VP9 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libvpx-vp9", 1000, (1280, 720), ctx["fps"]),
    "H.264 1 Mbit/s 720p, 2 generations": lambda frames, ctx: codec(frames, "libx264", 1000, (1280, 720),
                                                                   ctx["fps"], 2),
    "15 fps": lambda frames, ctx: frames[::2],
    "dropped frames (30%)": lambda frames, ctx: [f for f, k in zip(frames, ctx["rng"].random(len(frames))) if k > 0.3],
    "shuffled frames": lambda frames, ctx: [frames[i] for i in ctx["rng"].permutation(len(frames))],
    "2 s cut from the middle": lambda frames, ctx: frames[:len(frames) // 2 - 30] + frames[len(frames) // 2 + 30:],
    "H.264 300 kbit/s 360p": lambda frames, ctx: codec(frames, "libx264", 300, (640, 360), ctx["fps"]),
    "VP8 300 kbit/s 360p": lambda frames, ctx: codec(frames, "libvpx", 300, (640, 360), ctx["fps"]),
    "face-only crop": _face,
}
QUICK_ATTACKS = ["untouched", "mirror", "crop 10% per side", "scale 0.33", "scale 2.0", "rotation 3 deg",
                 "H.264 1 Mbit/s 720p", "shuffled frames", "H.264 300 kbit/s 360p", "face-only crop"]


def clip_verdict(frames: list[np.ndarray], keys, scales=None) -> str:
    """The clip's verdict as `mimicam verify` gives it (valid if any window is); stops at the first valid
    window, which cannot change the exit code."""
    worst = "absent"
    order = ("valid", "anonymous", "unbound", "foreign", "damaged", "absent")
    v = MarkVerifier(keys, window=WINDOW, scales=scales)
    n = math.ceil(len(frames) / WINDOW)
    for s in range(0, len(frames), WINDOW):
        v.reset()
        for f in frames[s:s + WINDOW]:
            v.feed(f)
        r = v.result()
        if r.marked and r.p_value * n <= v.alpha and order.index(r.status) < order.index(worst):
            worst = r.status
        if worst == "valid":
            break
    return worst


# -- transplants -----------------------------------------------------------------------------------
class _Replayer(Watermarker):
    """The attacker's embedder: the public layout carrying harvested coded bits (no key)."""

    def __init__(self, coded: np.ndarray) -> None:
        super().__init__(None, mode="anonymous")
        self._static, self._flipping = P.chip_tiles(coded)


def harvest(frames: list[np.ndarray]) -> np.ndarray | None:
    """Public decode of the payload of a marked clip (no key): coded +-1 bits, or None if unreadable."""
    v = MarkVerifier(None, scales=(1.0,))
    for f in frames[:WINDOW]:
        v.feed(f)
    r = v.result()
    if not r.marked:
        return None
    bits, _, readable = v.read_payload(v.last_hypothesis)
    return ecc.encode(bits).astype(np.float32) * 2 - 1 if readable else None


def replay(real: list[np.ndarray], coded: np.ndarray) -> list[np.ndarray]:
    out = []
    with _Replayer(coded) as wm:
        for i, f in enumerate(real):
            x = f.copy()
            wm.embed(x, i)
            out.append(x)
    return out


def blind_copy(marked: list[np.ndarray], real: list[np.ndarray]) -> list[np.ndarray]:
    """Average the high-pass luma of the marked frames; add it to the real frames (same size)."""
    def hp(f):
        y = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return y - cv2.GaussianBlur(y, (0, 0), 3.0)
    est = np.mean([hp(f) for f in marked], axis=0)
    est *= 2.2 / max(float(np.sqrt(np.mean(est * est))), 1e-6)       # at the mark's own RMS (about 41 dB)
    return [np.clip(f.astype(np.float32) + est[:, :, None], 0, 255).astype(np.uint8) for f in real]


def other_key(real: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    with Watermarker(KEY_B, session_id=99) as wm:
        for i, f in enumerate(real):
            x = f.copy()
            wm.embed(x, i)
            out.append(x)
    return out


# -- the run ---------------------------------------------------------------------------------------
def _pairs(n: int) -> list[tuple[str, str]]:
    portraits = sorted(glob.glob(str(DATA / "portraits/*")))
    portraits = [p for p in portraits if "group" not in p]     # one face to animate
    driving = sorted(glob.glob(str(DATA / "driving/*.mp4")))
    return [(portraits[i % len(portraits)], driving[(i * 5 + 1) % len(driving)]) for i in range(n)]


def false_positives(keys, n_windows: int, clips: list[str]) -> dict:
    marked = valid = total = 0
    zmax = 0.0
    for path in clips:
        frames = read_clip(path, WINDOW * 3)
        for s in range(0, len(frames) - WINDOW + 1, WINDOW):
            if total >= n_windows:
                break
            v = MarkVerifier(keys)
            for f in frames[s:s + WINDOW]:
                v.feed(f)
            r = v.result()
            total += 1
            marked += r.marked
            valid += r.status == "valid"
            zmax = max(zmax, r.z)
    v = MarkVerifier(keys)
    z_th = math.sqrt(2 * math.log(v.hypotheses / v.alpha))
    return {"windows": total, "marked": marked, "valid": valid, "z_max": round(zmax, 2),
            "hypotheses": v.hypotheses, "z_threshold": round(z_th, 2),
            "bound": f"P(false mark) <= alpha = {v.alpha:g} per window and per clip (union bound over "
                     f"{v.hypotheses} hypotheses x windows); P(valid | no key) <= 2^-24 per key and window"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 clips of 4 s, the main attacks (the lead's check)")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fp-windows", type=int, default=300)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    n_clips, seconds, attacks = (4, 4.0, QUICK_ATTACKS) if a.quick else (a.clips, a.seconds, list(ATTACKS))
    fp_windows = 20 if a.quick else a.fp_windows
    cv2.setNumThreads(2)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MIMICAM_CONFIG_DIR"] = tmp       # a throw-away key, never the user's
        from ..realtime.provenance.keys import load_or_create_key

        key = load_or_create_key()
        driving_all = sorted(glob.glob(str(DATA / "driving/*.mp4")))
        train = sorted(glob.glob(str(DATA / "train/*.mp4")))
        res: dict = {"clips": [], "attacks": {}, "transplant": {}, "screenshots": {}}
        gallery = [read_clip(p, 60, (426, 240)) for p in train[:8]]
        table: dict[str, Counter] = {name: Counter() for name in attacks}
        shots = Counter()
        transplant = {k: Counter() for k in ("payload replay", "blind copy", "other key")}
        for i, (portrait, driving) in enumerate(_pairs(n_clips)):
            t0 = time.perf_counter()
            frames, box, fps = render(portrait, driving, int(seconds * 30))
            frames = frames[: int(seconds * fps)]
            h, w = frames[0].shape[:2]
            res["clips"].append({"portrait": Path(portrait).name, "driving": Path(driving).name, "size": [w, h],
                                 "frames": len(frames), "render_s": round(time.perf_counter() - t0, 1)})
            ctx = {"box": box, "fps": fps, "rng": rng, "gallery": gallery}
            for name in attacks:
                table[name][clip_verdict(ATTACKS[name](frames, ctx), key)] += 1
            for k in (min(100, len(frames) - 1), len(frames) // 2, len(frames) - 1):
                for ext, params in ((".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 70])):
                    ok, buf = cv2.imencode(ext, frames[k], params)
                    shots[clip_verdict([cv2.imdecode(buf, cv2.IMREAD_COLOR)], key)] += 1
            real = read_clip(train[i % len(train)] if i % 2 else driving_all[(i * 3) % len(driving_all)],
                             len(frames), (w, h))
            coded = harvest(frames)
            if coded is not None:
                transplant["payload replay"][clip_verdict(replay(real, coded), key)] += 1
            transplant["blind copy"][clip_verdict(blind_copy(frames[:60], real), key)] += 1
            transplant["other key"][clip_verdict(other_key(real), key)] += 1
            print(f"clip {i + 1}/{n_clips} {Path(portrait).name} x {Path(driving).name} {w}x{h} "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        print(f"\n{'attack':40s} exit 0 (of {n_clips})   verdicts")
        for name in attacks:
            c = table[name]
            res["attacks"][name] = dict(c)
            print(f"{name:40s} {c['valid']:>3d}   {dict(c)}")
        n_shots = sum(shots.values())
        marked_shots = n_shots - shots["absent"]
        res["screenshots"] = {"frames": n_shots, "marked": marked_shots, "verdicts": dict(shots)}
        print(f"\nsingle screenshots (PNG and JPEG q70, frames 100, middle, last): marked in {marked_shots} of "
              f"{n_shots}; verdicts {dict(shots)}")
        print(f"\n{'transplant (must never be valid)':40s} exit 0   verdicts")
        for name, c in transplant.items():
            res["transplant"][name] = dict(c)
            print(f"{name:40s} {c['valid']:>3d} of {sum(c.values())}   {dict(c)}")
        res["false_positives"] = false_positives(key, fp_windows, train + driving_all)
        print("\nfalse positives (real and train clips, 30-frame windows, full search):", res["false_positives"])
        res["exit_codes"] = EXITS
        res["binding"] = {"bound_score": B.BOUND_SCORE, "hold_score": B.HOLD_SCORE}
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
