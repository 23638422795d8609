"""`mimicam live`: webcam (or a video replayed as one) -> animated portrait -> virtual camera / window /
file / nowhere. Hotkeys in the preview window: q quit, c recalibrate, n next portrait."""
from __future__ import annotations

import argparse
import signal

from ..realtime.motion import CALIBRATIONS
from .common import add_live_inputs, add_model_args, add_size_arg, format_summary


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("live", help="webcam -> animated portrait -> virtual camera")
    add_live_inputs(p, "a video file replayed at its own rate as the camera")
    p.add_argument("--output", default="vcam", help="vcam | window | file:PATH | null (default vcam)")
    p.add_argument("--frames", type=int, help="stop after N frames")
    p.add_argument("--strict", action="store_true", help="refuse a portrait that 'mimicam check' warns about")
    add_size_arg(p)
    p.add_argument("--calibrate", choices=CALIBRATIONS, default="neutral",
                   help="your reference face: the most neutral of the first 2 s (default; 'c' in the window "
                        "starts again), the first frame, or the first steady one")
    p.add_argument("--provenance", choices=("attributed", "anonymous"), default="attributed",
                   help="attributed (default): the mark names this install's key and is bound to the content; "
                        "anonymous: the public synthetic mark only, nothing attributable (see README)")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.pipeline import Pipeline, PipelineOptions
    from ..engines.backend import backend_class
    from .check import check_before_start

    backend_class(args.backend)  # "no GPU for TensorRT" first, before any file or camera is read
    check_before_start(args.portrait, args.strict, "live")

    options = PipelineOptions(portrait=args.portrait[0], more_portraits=tuple(args.portrait[1:]),
                              driving=args.video if args.video else args.camera, output=args.output,
                              backend=args.backend, config=args.config, weights=args.weights, realtime=True,
                              max_frames=args.frames, size=args.size, calibrate=args.calibrate,
                              provenance=args.provenance)
    with Pipeline(options) as pipe:
        signal.signal(signal.SIGTERM, lambda *_: pipe.stop())
        where = getattr(pipe.sink, "device_name", None) or args.output
        print(f"mimicam live: sending {pipe.size[0]}x{pipe.size[1]} to {where}; Ctrl-C to stop" + (" (window: q quit, c recalibrate, "
              "n next portrait)" if args.output == "window" else ""))
        try:
            summary = pipe.run()
        except KeyboardInterrupt:
            pipe.stop()
            summary = pipe.recorder.summary()
    print(format_summary(summary))
    return 0
