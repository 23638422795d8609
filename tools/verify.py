"""`mimicam verify PATH|--camera N [--json OUT]`: is this mimicam's synthetic output?

Exit status: 0 a valid mark was found, 3 no mark was found (unknown -- never "real"),
4 a mark was found whose MAC is invalid or unreadable (another key, or replayed), 2 bad input.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from ..realtime.errors import InputError

_SAYS = {0: "SYNTHETIC: valid mimicam mark (this key)", 3: "no mark found (this does not mean the content is real)",
         4: "SYNTHETIC: mimicam mark found, but its MAC is not valid for this key (other key, replayed or unreadable)"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="check frames, a recording, a screenshot or a camera for the mark")
    p.add_argument("path", nargs="?", help="image file, folder of frames, or video file")
    p.add_argument("--camera", type=int, default=None, metavar="N", help="read N's frames instead of a file")
    p.add_argument("--frames", type=int, default=None, help="read at most this many frames (camera: 90)")
    p.add_argument("--window", type=int, default=30, help="frames per decision window (default 30)")
    p.add_argument("--scale", type=float, default=None, help="known scale of the frames vs the original (skip search)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the full report as JSON")
    p.set_defaults(func=run)


def _scored(frames, every: int = 10, most: int = 30):
    """Pass frames through; the advisory classifier scores every ``every``-th (at most ``most``) into the list."""
    import sys

    from ..realtime.errors import ModelError
    from ..realtime.provenance.classifier import load_default

    try:
        classifier, scores = load_default(), []
    except ModelError as exc:   # advisory: the mark is still checked
        print(f"classifier unavailable: {exc}", file=sys.stderr)
        classifier, scores = None, []

    def gen():
        for i, frame in enumerate(frames):
            if classifier is not None and i % every == 0 and len(scores) < most:
                scores.append(classifier.score(frame))
            yield frame
        if classifier is not None:
            classifier.close()
    return gen(), scores


def run(args: argparse.Namespace) -> int:
    from ..realtime.provenance.check import iter_frames, safe_p, verify_stream
    from ..realtime.provenance.keys import load_or_create_key

    if (args.path is None) == (args.camera is None):
        raise InputError("give exactly one of PATH or --camera N")
    if args.window < 1:
        raise InputError(f"--window must be >= 1, got {args.window}")
    source = args.camera if args.camera is not None else args.path
    limit = args.frames if args.frames is not None else (90 if args.camera is not None else None)
    scales = (args.scale,) if args.scale is not None else None
    frames, scores = _scored(iter_frames(source, limit))
    report = verify_stream(frames, load_or_create_key(), args.window, scales, str(source))
    if scores:
        report = dataclasses.replace(report, classifier_score=float(np.median(scores)))
    score = "n/a" if report.classifier_score is None else f"{report.classifier_score:.2f} (advisory, uncalibrated)"
    print(f"{source}: {_SAYS[report.exit_code]}")
    print(f"  frames {report.frames}, windows {len(report.windows)}, p-value {safe_p(report.p_value):.3g}, "
          f"MAC {report.mac}, session id {report.session_id}, classifier score {score}")
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2, default=float))
    return report.exit_code
