"""`mimicam present`: presenter mode for live demos -- the driving camera, the avatar as sent, the
provenance panel and a latency sparkline in one view, to a window, the virtual camera or a file.
Hotkeys (window): q quit, n next portrait, c recalibrate, w mark on/off, f freeze, v verify the last
10 s, b driver view (show / blur / hide)."""
from __future__ import annotations

import argparse
import signal
from pathlib import Path

from .common import add_live_inputs, add_model_args, format_summary


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("present", help="presenter view for live demos: driver, avatar, provenance, latency")
    add_live_inputs(p, "a video replayed at its own rate as the camera (rehearsal)")
    p.add_argument("--loop", action="store_true", help="start the --video over when it ends")
    p.add_argument("--output", default="window",
                   help="window | vcam (the whole view; plus a window for the hotkeys) | file:PATH | null")
    p.add_argument("--driver", choices=("show", "blur", "hide"), default=None,
                   help="driving-camera panel at start (default: show in a window or from --video, "
                        "else hide); 'b' cycles it")
    p.add_argument("--frames", type=int, help="stop after N frames")
    p.add_argument("--still", type=Path, metavar="PNG", help="at the end, save the last view as a PNG (a new file)")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.errors import InputError
    from ..realtime.pipeline import PipelineOptions
    from ..realtime.present import Presenter, PresentOptions

    if args.still is not None and (args.still.exists() or args.still.suffix.lower() != ".png"):
        raise InputError(f"--still {args.still} exists or is not a .png name", "give a new .png file name")
    pipeline = PipelineOptions(portrait=args.portrait[0], more_portraits=tuple(args.portrait[1:]),
                               driving=args.video if args.video else args.camera, output="null",
                               backend=args.backend, config=args.config, weights=args.weights, realtime=True,
                               max_frames=args.frames)
    with Presenter(PresentOptions(pipeline, output=args.output, driver_mode=args.driver,
                                       loop=args.loop)) as presenter:
        signal.signal(signal.SIGTERM, lambda *_: presenter.stop())
        print(f"mimicam present: view to {args.output}; Ctrl-C to stop (window: q quit, n next portrait, "
              "c recalibrate, w mark on/off, f freeze, v verify last 10 s, b driver view)")
        try:
            summary = presenter.run()
        except KeyboardInterrupt:
            presenter.stop()
            summary = presenter.pipeline.recorder.summary()
    if args.still is not None and presenter.views:
        import cv2

        cv2.imwrite(str(args.still), presenter.canvas.canvas, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {args.still}")
    print(format_summary(summary))
    view = summary.get("view_latency_ms") or {}
    if view.get("p50") is not None:
        print(f"capture-to-view latency ms (presenter view written): p50 {view['p50']:.1f}  p95 {view['p95']:.1f}")
    return 0
