"""`mimicam render`: offline, every driving frame rendered in order (output frame i answers driving
frame i, same frame rate), to a video file, with the driving clip's audio; optional JSON stats
(schema mimicam.stats/2, mode "offline": processing time per frame and speed as a multiple of real time).
``--start``/``--duration``/``--frames`` pick a part of the clip (audio trimmed alike). Exit 1 when no
driving frame had a face (the output is then the still portrait)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..realtime.motion import CALIBRATIONS
from .common import add_model_args, add_size_arg, format_summary
from .progress import bar


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("render", help="animate a portrait with a driving video, offline, to a file")
    p.add_argument("--portrait", "--source", dest="portrait", required=True, type=Path,
                   help="portrait image (--source: the old name)")
    p.add_argument("--video", "--driving", dest="video", required=True, type=Path,
                   help="driving video, or a folder of frames (--driving: the old name)")
    p.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    p.add_argument("--json", type=Path, metavar="STATS.json", help="write frame/latency statistics as JSON")
    p.add_argument("--calibrate", choices=CALIBRATIONS, default="neutral",
                   help="reference frame of the driving video: the most neutral of its first 2 s (default), "
                        "its first frame, or its first steady one")
    _add_workflow_args(p)
    add_size_arg(p, live=False)
    p.add_argument("--provenance", choices=("attributed", "anonymous"), default="attributed",
                   help="attributed (default): the mark names this install's key and is bound to the content; "
                        "anonymous: the public synthetic mark only, nothing attributable (see README)")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def _add_workflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="start this far into the driving video")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="render at most this long")
    p.add_argument("--frames", type=int, metavar="N", help="render at most N frames")
    p.add_argument("--no-audio", action="store_true", help="leave the driving video's audio out")
    p.add_argument("--strict", action="store_true", help="refuse a portrait that 'mimicam check' warns about")


def render(source: Path, driving: Path, out: Path, backend: str = "auto", config: str = "lite",
           weights: Path | None = None, calibrate: str = "neutral", json_path: Path | None = None,
           start_s: float = 0.0, duration_s: float | None = None, frames: int | None = None,
           audio: bool = True, progress: bool | None = None, size: tuple[int, int] | None = None,
           provenance: str = "attributed") -> dict:
    """Render; the summary gets ``faces`` (driving frames with a face) and ``audio`` (muxed or not).
    ``progress``: a bar on stderr (None: only when stderr is a terminal)."""
    from ..realtime.clip import add_audio, plan_clip
    from ..realtime.errors import InputError
    from ..realtime.pipeline import Pipeline, PipelineOptions

    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a folder", "give a file name such as out.mp4")
    options = PipelineOptions(portrait=source, driving=driving, output=f"file:{out}", backend=backend,
                              config=config, weights=weights, realtime=False, calibrate=calibrate, detector=False,
                              size=size, provenance=provenance)
    plan = plan_clip(driving, start_s, duration_s, frames)
    with bar(plan.total, "render", "frame", progress) as shown, \
            Pipeline(options, on_output=lambda _: shown.update(1), source=plan.source) as pipe:
        summary = pipe.run()
    summary["faces"] = int((summary.get("kinds") or {}).get("generated", 0))
    summary["audio"] = False
    if audio:
        summary["audio"], note = add_audio(out, driving, plan.start_s, plan.fps)
        if note:
            summary.setdefault("notes", []).append(note)
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    return summary


def run(args: argparse.Namespace) -> int:
    from ..engines.backend import backend_class
    from .check import check_before_start

    backend_class(args.backend)  # "no GPU for TensorRT" first, before any file or camera is read
    check_before_start([args.portrait], args.strict, "render")
    summary = render(args.portrait, args.video, args.out, args.backend, args.config, args.weights,
                     args.calibrate, args.json, args.start, args.duration, args.frames, not args.no_audio,
                     size=args.size, provenance=args.provenance)
    print(format_summary(summary))
    return report_faces(summary, args.out)


def report_faces(summary: dict, out: Path) -> int:
    """How many driving frames had a face; exit 1 when none had (the output is the still portrait)."""
    n, faces = summary.get("frames", 0), summary.get("faces", 0)
    audio = "with the driving video's audio" if summary.get("audio") else "no audio"
    print(f"wrote {out} ({n} frames, {audio}); a face was found in {faces} of {n} driving frames")
    if n and not faces:
        print(f"mimicam render: no face in any driving frame: {out} shows the still portrait "
              "(use a driving video with a visible, frontal face)", file=sys.stderr)
        return 1
    return 0
