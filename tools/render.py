"""`mimicam render`: offline, every driving frame rendered in order (output frame i answers driving
frame i, same frame rate), to a video file; optional JSON stats (schema mimicam.stats/1)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_model_args, format_summary


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("render", help="animate a portrait with a driving video, offline, to a file")
    p.add_argument("--source", required=True, type=Path, help="portrait image")
    p.add_argument("--driving", required=True, type=Path, help="driving video (or a folder of frames)")
    p.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    p.add_argument("--json", type=Path, metavar="STATS.json", help="write frame/latency statistics as JSON")
    p.add_argument("--calibrate", choices=("first", "steady"), default="first",
                   help="reference frame of the driving video (default: its first frame)")
    p.add_argument("--provenance", choices=("attributed", "anonymous"), default="attributed",
                   help="attributed (default): the mark names this install's key and is bound to the content; "
                        "anonymous: the public synthetic mark only, nothing attributable (see README)")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def render(source: Path, driving: Path, out: Path, backend: str = "auto", config: str = "lite",
           weights: Path | None = None, calibrate: str = "first", json_path: Path | None = None,
           provenance: str = "attributed") -> dict:
    from ..realtime.errors import InputError
    from ..realtime.pipeline import Pipeline, PipelineOptions

    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a folder", "give a file name such as out.mp4")
    options = PipelineOptions(portrait=source, driving=driving, output=f"file:{out}", backend=backend,
                              config=config, weights=weights, realtime=False, calibrate=calibrate, detector=False,
                              provenance=provenance)
    with Pipeline(options) as pipe:
        summary = pipe.run()
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    return summary


def run(args: argparse.Namespace) -> int:
    summary = render(args.source, args.driving, args.out, args.backend, args.config, args.weights,
                     args.calibrate, args.json, args.provenance)
    print(format_summary(summary))
    print(f"wrote {args.out}")
    return 0
