"""Output integrity, measured on the frames the pipeline emits (the code path of `mimicam render`):

    python -m mimicam.tools.integrity --portrait PORTRAIT [--video CLIP | --still N] [--json OUT]

For every emitted frame it compares with the clean portrait and with the same frame just before the
mark was added (observed inside the Finisher, nothing re-computed):
- **outer strips**: mean |frame - portrait| outside the paste box and the badge (grey levels): the mark's
  own amplitude is all that may be there; a pile-up of earlier frames' marks or badges grows it;
- **PSNR** of the frame against the portrait (badge excluded; and in the outer strips only), at frame 1
  and at the last frame;
- **mark visibility**: PSNR of (marked - unmarked) in every 32x32 tile outside the badge; the worst tile;
- **badge residue**: mean |frame - marked frame| where an earlier, wider badge was and the current one is
  not (0 unless a badge is left over).

``--still N`` drives with the driving clip's first frame repeated N times (a still driver); the badge
text alternates between a long and a short one, so that a leftover of the long one would show.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..realtime.badge import badge_rect
from ..realtime.capture import CaptureSource
from ..realtime.pipeline import Pipeline, PipelineOptions

TILE = 32
LONG_TEXT, SHORT_TEXT = "SYNTHETIC - verified", "SYNTHETIC"


class StillSource(CaptureSource):
    """One driving frame, ``n`` times (a copy each read), then the end."""

    def __init__(self, frame: np.ndarray, n: int, fps: float = 30.0) -> None:
        self.frame, self.n, self.fps, self.i = frame, n, fps, 0

    def read(self) -> np.ndarray | None:
        if self.i >= self.n:
            return None
        self.i += 1
        return self.frame.copy()


@dataclass(frozen=True)
class IntegrityReport:
    frames: int
    size: tuple[int, int]                 # emitted (width, height)
    outer_pixels: int                     # pixels in the outer strips
    outer_diff_max: float                 # max over frames of the mean |diff| in the outer strips
    outer_diff_first: float
    outer_diff_last: float
    psnr_first: float                     # frame 1 vs portrait, badge excluded (dB)
    psnr_last: float
    outer_psnr_first: float               # frame 1 vs portrait, outer strips only (dB)
    outer_psnr_last: float
    mark_tile_psnr_min: float             # worst 32x32 tile of the mark over all frames (dB)
    mark_psnr_mean: float                 # whole-frame PSNR of the mark, mean over frames (dB)
    badge_residue_max: float              # where an earlier, wider badge was, vs the marked frame (grey levels)

    def to_json(self) -> dict:
        return asdict(self)


def _psnr(mse: float) -> float:
    return 10 * math.log10(255.0 ** 2 / mse) if mse > 1e-12 else math.inf


def _tile_mse(diff: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Mean square of ``diff`` (HxW float) per TILE x TILE tile, over the ``keep`` pixels; whole tiles only."""
    h, w = diff.shape[0] // TILE * TILE, diff.shape[1] // TILE * TILE
    sq = (diff[:h, :w] ** 2 * keep[:h, :w]).reshape(h // TILE, TILE, w // TILE, TILE).sum((1, 3))
    n = keep[:h, :w].reshape(h // TILE, TILE, w // TILE, TILE).sum((1, 3))
    return sq[n > TILE * TILE // 2] / n[n > TILE * TILE // 2]


class _Observer:
    """Collects the per-frame numbers; sits between the Finisher's mark and badge, and after the sink."""

    def __init__(self, pipe: Pipeline, alternate_badge: bool) -> None:
        self.pipe = pipe
        comp = pipe.compositor
        w, h = comp.size
        self.clean = comp.portrait.image[:h, :w].astype(np.int16)
        self.badge_rects = {text: badge_rect(w, h, text) for text in (LONG_TEXT, SHORT_TEXT)}
        x0, y0, x1, y1 = self.badge_rects[LONG_TEXT]
        self.no_badge = np.ones((h, w), bool)
        self.no_badge[y0:y1, x0:x1] = False
        self.outer = self.no_badge.copy()
        self.outer[comp.iy0:comp.iy1, comp.ix0:comp.ix1] = False
        sx0, sy0, sx1, sy1 = self.badge_rects[SHORT_TEXT]
        self.residue = ~self.no_badge
        self.residue[sy0:sy1, sx0:sx1] = False
        self.alternate = alternate_badge
        self.text = SHORT_TEXT
        self.outer_diff: list[float] = []
        self.psnr: list[float] = []
        self.outer_psnr: list[float] = []
        self.mark_psnr: list[float] = []
        self.tile_min = math.inf
        self.residue_diff: list[float] = []
        self._embed = pipe.finisher.embed
        pipe.finisher.embed = self.embed
        if alternate_badge:
            pipe.finisher.badge_text = self.badge_text

    def badge_text(self) -> str:
        return self.text

    def embed(self, image: np.ndarray, counter: int) -> None:
        before = image.astype(np.int16)
        self._embed(image, counter)
        diff = (image.astype(np.int16) - before).astype(np.float32).mean(2)
        keep = self.no_badge.astype(np.float32)
        self.mark_psnr.append(_psnr(float((diff ** 2 * keep).sum() / keep.sum())))
        tiles = _tile_mse(diff, keep)
        if tiles.size:
            self.tile_min = min(self.tile_min, _psnr(float(tiles.max())))
        self.marked = image.copy()  # what the badge is drawn on

    def output(self, frame) -> None:
        if frame.kind == "slate":
            raise RuntimeError(f"frame {frame.index} is a slate: the pipeline failed, see the log")
        d = np.abs(frame.image.astype(np.int16) - self.clean).astype(np.float32).mean(2)
        if self.outer.any():
            self.outer_diff.append(float(d[self.outer].mean()))
            self.outer_psnr.append(_psnr(float((d[self.outer] ** 2).mean())))
        self.psnr.append(_psnr(float((d[self.no_badge] ** 2).mean())))
        if self.text == SHORT_TEXT and self.residue.any():  # exactly the marked frame, or a leftover
            left = np.abs(frame.image.astype(np.int16) - self.marked).astype(np.float32).mean(2)
            self.residue_diff.append(float(left[self.residue].mean()))
        if self.alternate:  # long for 5 frames, short for 5: a leftover of the long plate would show
            self.text = LONG_TEXT if (frame.index + 1) % 10 < 5 else SHORT_TEXT

    def report(self) -> IntegrityReport:
        n = len(self.psnr)
        return IntegrityReport(
            n, self.pipe.size, int(self.outer.sum()), max(self.outer_diff, default=0.0),
            self.outer_diff[0] if self.outer_diff else 0.0, self.outer_diff[-1] if self.outer_diff else 0.0,
            self.psnr[min(1, n - 1)], self.psnr[-1],
            self.outer_psnr[min(1, n - 1)] if self.outer_psnr else math.inf,
            self.outer_psnr[-1] if self.outer_psnr else math.inf, self.tile_min, float(np.mean(self.mark_psnr)),
            max(self.residue_diff, default=0.0))


def measure(portrait: Path | str, driving: Path | str, still: int | None = None, frames: int | None = None,
            backend: str = "ort", alternate_badge: bool = True) -> IntegrityReport:
    """Run the offline pipeline (watermark on, as `render`) and measure every emitted frame."""
    from ..realtime.capture import open_source
    from ..realtime.errors import InputError

    source: CaptureSource | None = None
    if still is not None:
        with open_source(driving, paced=False) as clip:
            first = clip.read()
        if first is None:
            raise InputError(f"driving video {driving} has no frames", "use another video")
        source = StillSource(first, still)
    options = PipelineOptions(portrait=portrait, driving=driving, output="null", backend=backend,
                              realtime=False, max_frames=frames, detector=False)
    observer: list[_Observer] = []
    with Pipeline(options, source=source, on_output=lambda f: observer[0].output(f)) as pipe:
        observer.append(_Observer(pipe, alternate_badge))
        pipe.run()
    return observer[0].report()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mimicam.tools.integrity", description=__doc__.split("\n\n")[0])
    p.add_argument("--portrait", "--source", dest="portrait", required=True, type=Path, help="portrait image")
    p.add_argument("--video", "--driving", dest="video", type=Path, default=None,
                   help="driving video (default: the bundled demo clip)")
    p.add_argument("--still", type=int, default=None, metavar="N", help="drive with the first frame, N times")
    p.add_argument("--frames", type=int, default=None, help="at most this many frames of --driving")
    p.add_argument("--backend", default="ort")
    p.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = p.parse_args(argv)
    driving = args.video
    if driving is None:
        from ..realtime.assets import demo_driving_path

        driving = demo_driving_path()
    rep = measure(args.portrait, driving, args.still, args.frames, args.backend)
    for k, v in rep.to_json().items():
        print(f"{k:22s} {v:.2f}" if isinstance(v, float) else f"{k:22s} {v}")
    if args.json is not None:
        args.json.write_text(json.dumps(rep.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
