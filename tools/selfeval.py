"""In-crop self-reenactment evaluation of generator weights on landmark-cached clips (``dataset.py``).

For each clip the portrait is its first cached frame and every later cached frame is a driver: the
generator gets the portrait's keypoints and the frame's own (absolute) keypoints, and its output, pasted
over the portrait with its mask, is compared with the real frame, over the whole crop:

- ``l1``: mean absolute difference of BGR in [0, 1];
- ``ssim``: luma SSIM (BT.601; Gaussian window sigma 1.5, 11x11; C1 = 0.01^2, C2 = 0.03^2);
- ``landmark``: mean distance of the 478 MediaPipe landmarks found on the output and on the real frame,
  divided by the face size sqrt(w x h) of the real frame's landmark box (frames where no face is found
  on the output are counted in ``no_face`` and left out).

``static`` is the portrait itself, ``closed-form`` the untrained model (exactly ``FirstOrderPrior``).
This scores the generator alone (no tracking, filtering or relative-motion transfer): the whole
pipeline is scored by ``tools/evaluate.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..engines.config import GeneratorConfig
from ..engines.model import build_modules
from ..engines.weights import load_weights
from .train_data import Clip
from .evaluate import l1, landmark_distance, ssim


def load_method(cfg: GeneratorConfig, weights: Path | None):
    enc, gen = build_modules(cfg, learned=weights is not None)
    if weights is not None:
        load_weights((enc, gen), cfg, weights)
    return enc.eval(), gen.eval()


@torch.no_grad()
def render(modules, clip: Clip, chunk: int = 8) -> np.ndarray:
    """(N-1, S, S, 3) uint8 outputs for frames 1..N-1 driven onto frame 0; None modules = static."""
    src = torch.from_numpy(clip.frames[0].transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    n = len(clip.frames) - 1
    if modules is None:
        return np.repeat(clip.frames[:1], n, 0)
    enc, gen = modules
    cache = enc(src, torch.from_numpy(clip.kp[:1]), torch.from_numpy(clip.jac[:1]))
    outs = []
    for a in range(1, n + 1, chunk):
        b = min(a + chunk, n + 1)
        rep = tuple(c.expand(b - a, *c.shape[1:]) for c in cache)
        img, paste, *_ = gen(*rep, torch.from_numpy(clip.kp[a:b]), torch.from_numpy(clip.jac[a:b]))
        out = paste * img + (1 - paste) * src
        outs.append((out.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8))
    return np.concatenate(outs)


def _landmarks(detector, bgr: np.ndarray) -> np.ndarray | None:
    face = detector.largest(bgr)
    return None if face is None else face.xy.astype(np.float64)


def score(outs: np.ndarray, real: np.ndarray, detector=None, real_lms=None) -> dict[str, float]:
    """Mean L1 and luma SSIM over the frames (the definitions of ``mimicam evaluate``), and the mean landmark
    distance in face sizes where both have a face."""
    got = {"l1": float(np.mean([l1(o, r) for o, r in zip(outs, real)])),
           "ssim": float(np.mean([ssim(o, r) for o, r in zip(outs, real)]))}
    if detector is not None:
        dists, missing = [], 0
        for img, ref in zip(outs, real_lms):
            if ref is None:
                continue
            lm = _landmarks(detector, img)
            if lm is None:
                missing += 1
                continue
            dists.append(landmark_distance(lm, ref))
        got["landmark"] = float(np.mean(dists)) if dists else float("nan")
        got["no_face"] = missing
    return got


def contact_sheet(rows: list[np.ndarray], picks: list[int], tile: int = 128) -> np.ndarray:
    """One row per method (real first), one column per picked frame."""
    import cv2

    return np.concatenate([np.concatenate([cv2.resize(r[i], (tile, tile), interpolation=cv2.INTER_AREA)
                                           for i in picks], 1) for r in rows], 0)


def evaluate(clips: list[Clip], methods: dict[str, object], out_dir: Path | None = None, landmarks: bool = True,
             log=print) -> dict[str, dict]:
    """methods: name -> (encoder, generator) or None (static). Returns {clip: {method: scores}, 'mean': ...}."""
    import cv2

    detector = None
    if landmarks:
        from ..realtime.landmarks import ImageFaces
        detector = ImageFaces(num_faces=1).open()
    results: dict[str, dict] = {}
    try:
        for clip in clips:
            real = clip.frames[1:]
            real_lms = [_landmarks(detector, f) for f in real] if detector else None
            renders = {name: render(m, clip) for name, m in methods.items()}
            results[clip.name] = {name: score(r, real, detector, real_lms) for name, r in renders.items()}
            log(f"  {clip.name}: " + "  ".join(f"{n} L1 {s['l1']:.4f} SSIM {s['ssim']:.4f}"
                                             + (f" LMD {s['landmark']:.4f}" if 'landmark' in s else "")
                                             for n, s in results[clip.name].items()))
            if out_dir is not None:
                motion = np.abs(clip.kp[1:] - clip.kp[:1]).mean((1, 2))
                picks = sorted(np.argsort(motion)[-4:].tolist())
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(Path(out_dir) / f"{clip.name}.png"), contact_sheet([real, *renders.values()], picks))
    finally:
        if detector is not None:
            detector.close()
    keys = next(iter(results.values()))[next(iter(methods))].keys() if results else []
    results["mean"] = {n: {k: float(np.nanmean([results[c][n][k] for c in results if c != "mean"])) for k in keys}
                       for n in methods}
    return results


def main(argv: list[str] | None = None) -> int:
    """python -m mimicam.tools.selfeval --weights W.safetensors --clips DIR --out OUT [--config lite]"""
    import argparse
    import json

    from ..engines.config import get_config
    from .train_data import load_clips

    p = argparse.ArgumentParser(prog="python -m mimicam.tools.selfeval", description=__doc__)
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--clips", type=Path, required=True, help="folder of driving videos")
    p.add_argument("--out", type=Path, required=True, help="selfeval.json + one contact sheet per clip")
    p.add_argument("--config", default="lite")
    p.add_argument("--frames", type=int, default=40, help="cached frames per clip (the first is the portrait)")
    p.add_argument("--cache", type=Path, help="frame/landmark cache (default OUT/frames)")
    p.add_argument("--no-landmarks", action="store_true")
    a = p.parse_args(argv)
    cfg = get_config(a.config)
    clips = load_clips(a.clips, a.cache or a.out / "frames", cfg.image_size, a.frames)
    methods = {"static": None, "closed-form": load_method(cfg, None), "trained": load_method(cfg, a.weights)}
    res = evaluate(clips, methods, a.out, landmarks=not a.no_landmarks)
    (a.out / "selfeval.json").write_text(json.dumps(res, indent=2))
    base = res["mean"]["static"]
    for name, s in res["mean"].items():
        print(f"{name:12s} L1 {s['l1']:.4f} ({s['l1'] / base['l1']:.3f}x static)  SSIM {s['ssim']:.4f} "
              f"({s['ssim'] - base['ssim']:+.4f})" + (f"  landmark {s['landmark']:.4f} "
                                                       f"({s['landmark'] / base['landmark']:.3f}x)" if "landmark" in s else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
