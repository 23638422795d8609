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
from .provenance_attacks import ATTACKS, QUICK_ATTACKS

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


def _windows(path: str, limit: int | None):
    """Consecutive 30-frame windows of a clip, read as they are needed (at most ``limit``; None: all)."""
    cap = cv2.VideoCapture(path)
    n, window = 0, []
    try:
        while limit is None or n < limit:
            ok, f = cap.read()
            if not ok:
                break
            window.append(f)
            if len(window) == WINDOW:
                yield window
                n, window = n + 1, []
    finally:
        cap.release()


def false_positives(keys, n_windows: int, clips: list[str], per_clip: int | None = 3) -> dict:
    """Real clips, one 30-frame window at a time (the first ``per_clip`` of each clip; None: every window),
    each verified on its own with the full search, until ``n_windows``."""
    marked = valid = total = 0
    zmax = 0.0
    for path in clips:
        if total >= n_windows:
            break
        for frames in _windows(path, per_clip):
            if total >= n_windows:
                break
            v = MarkVerifier(keys)
            for f in frames:
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


def stills() -> dict:
    """Each shared portrait marked as it is (4 frames of the still image), verified at scale 1: how the
    untouched mark fares with the output's size and texture."""
    out = {}
    for path in sorted(glob.glob(str(DATA / "portraits/*"))):
        img = cv2.imread(path)
        if max(img.shape) > 1600:
            img = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        frames = []
        with Watermarker(b"S" * 32, session_id=1) as wm:
            for i in range(4):
                f = img.copy()
                wm.embed(f, i)
                frames.append(f)
        v = MarkVerifier(b"S" * 32, scales=(1.0,))
        for f in frames:
            v.feed(f)
        r = v.result()
        out[Path(path).name] = {"size": [img.shape[1], img.shape[0]], "status": r.status, "z": round(r.z, 1)}
        print(f"{Path(path).name:40s} {img.shape[1]}x{img.shape[0]}  {r.status:8s} z {r.z:.1f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 clips of 4 s, the main attacks (the lead's check)")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fp-windows", type=int, default=300)
    ap.add_argument("--fp-per-clip", type=int, default=3, help="windows per real clip (0: every window)")
    ap.add_argument("--fp-only", action="store_true", help="only: the false-positive run on the real clips")
    ap.add_argument("--stills", action="store_true", help="only: each shared portrait marked as a still image")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.stills:
        res = stills()
        if a.json:
            a.json.write_text(json.dumps(res, indent=2))
        return 0
    if a.fp_only:
        clips = sorted(glob.glob(str(DATA / "train/*.mp4"))) + sorted(glob.glob(str(DATA / "driving/*.mp4")))
        t0 = time.perf_counter()
        res = {"false_positives": false_positives(b"F" * 32, a.fp_windows, clips, a.fp_per_clip or None)}
        res["false_positives"]["seconds"] = round(time.perf_counter() - t0)
        print("false positives (real and train clips, 30-frame windows, full search):", res["false_positives"])
        if a.json:
            a.json.write_text(json.dumps(res, indent=2))
        return 0
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
                verdict = clip_verdict(ATTACKS[name](frames, ctx), key)
                table[name][verdict] += 1
                print(f"  {name}: {verdict}", flush=True)
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
        res["false_positives"] = false_positives(key, fp_windows, train + driving_all, a.fp_per_clip or None)
        print("\nfalse positives (real and train clips, 30-frame windows, full search):", res["false_positives"])
        res["exit_codes"] = EXITS
        res["binding"] = {"bound_score": B.BOUND_SCORE, "hold_score": B.HOLD_SCORE}
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
