"""`mimicam verify PATH|--camera N [--key FILE] [--json OUT]`: was this made by this mimicam install?

Exit status: 0 valid mark, your key, bound to this content; 4 a mark that is not bound to this content
under your keys (another key, or transplanted); 5 a mark detected but unreadable; 6 the anonymous mark;
3 no mark (unknown -- never "real"); 2 bad input. It only reads keys: it never creates one.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from ..realtime.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="check frames, a recording, a screenshot or a camera for the mark")
    p.add_argument("path", nargs="?", help="image file, folder of frames, or video file")
    p.add_argument("--camera", type=int, default=None, metavar="N", help="read N's frames instead of a file")
    p.add_argument("--frames", type=int, default=None, help="read at most this many frames (camera: 90)")
    p.add_argument("--window", type=int, default=30, help="frames per decision window (default 30)")
    p.add_argument("--scale", type=float, default=None, help="known scale of the frames vs the original (skip search)")
    p.add_argument("--key", type=Path, action="append", default=None, metavar="FILE",
                   help="verify with this key file (repeatable); default: your current and retired keys")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the report, window by window, as JSON")
    p.set_defaults(func=run)


def _scored(frames, every: int = 10, most: int = 30):
    """Pass frames through; the advisory classifier scores every ``every``-th (at most ``most``) into the list."""
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


def _keys(files: list[Path] | None) -> list[tuple[str, bytes]]:
    from ..realtime.provenance.keys import load_keys, read_key

    if files:
        for f in files:
            if not f.is_file():
                raise InputError(f"--key {f} is not a file")
        return [(str(f), read_key(f)) for f in files]
    keys = load_keys()
    if not keys:
        print("no watermark key on this machine: a mark can be detected but not attributed", file=sys.stderr)
    return keys


def run(args: argparse.Namespace) -> int:
    from ..realtime.provenance.check import iter_frames, safe_p, verify_stream

    if (args.path is None) == (args.camera is None):
        raise InputError("give exactly one of PATH or --camera N")
    if args.window < 1:
        raise InputError(f"--window must be >= 1, got {args.window}")
    keys = _keys(args.key)
    source = args.camera if args.camera is not None else args.path
    limit = args.frames if args.frames is not None else (90 if args.camera is not None else None)
    scales = (args.scale,) if args.scale is not None else None
    frames, scores = _scored(iter_frames(source, limit))
    report = verify_stream(frames, keys, args.window, scales, str(source))
    if scores:
        report = dataclasses.replace(report, classifier_score=float(np.median(scores)))
    score = "n/a" if report.classifier_score is None else f"{report.classifier_score:.2f} (advisory, uncalibrated)"
    counts = {s: sum(w.status == s for w in report.windows) for s in {w.status for w in report.windows}}
    print(f"{source}: {report.says}")
    print(f"  frames {report.frames}, windows {counts}, p-value {safe_p(report.p_value):.3g}, "
          f"session id {report.session_id}, classifier score {score}")
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2, default=float))
    return report.exit_code
