"""`mimicam demo`: the bundled portrait driven by the bundled real clip -> a video file, then the
frame count, fps and capture-to-sink latency. The clip is replayed as a 30 fps camera would deliver it
(latest frame wins), so the numbers are those of live use."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_model_args, add_size_arg, format_summary


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="bundled portrait + bundled driving clip -> out/demo.mp4 + latency")
    p.add_argument("--out", type=Path, default=Path("out/demo.mp4"), help="output video (default out/demo.mp4)")
    p.add_argument("--frames", type=int, default=None, metavar="N", help="stop after N output frames (default: the whole clip)")
    add_size_arg(p)
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.assets import demo_driving_path, demo_portrait_path
    from ..realtime.errors import InputError
    from ..realtime.pipeline import Pipeline, PipelineOptions

    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be >= 1, got {args.frames}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    options = PipelineOptions(portrait=demo_portrait_path(), driving=demo_driving_path(), output=f"file:{args.out}",
                              backend=args.backend, config=args.config, weights=args.weights, realtime=True,
                              max_frames=args.frames, size=args.size)
    print("mimicam demo: animating the bundled portrait with the bundled clip, replayed as a live camera ...")
    with Pipeline(options) as pipe:
        summary = pipe.run()
    print(format_summary(summary))
    print(f"wrote {args.out}")
    return 0
