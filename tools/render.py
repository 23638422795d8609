"""`mimicam render`: offline, every driving frame rendered in order (output frame i answers driving
frame i, same frame rate), to a video file, with the driving clip's audio; optional JSON stats
(schema mimicam.stats/1). ``--start``/``--duration``/``--frames`` pick a part of the clip (audio trimmed
alike). Exit 1 when no driving frame had a face (the output is then the still portrait)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_model_args, format_summary
from .progress import bar


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("render", help="animate a portrait with a driving video, offline, to a file")
    p.add_argument("--source", required=True, type=Path, help="portrait image")
    p.add_argument("--driving", required=True, type=Path, help="driving video (or a folder of frames)")
    p.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    p.add_argument("--json", type=Path, metavar="STATS.json", help="write frame/latency statistics as JSON")
    p.add_argument("--calibrate", choices=("first", "steady"), default="first",
                   help="reference frame of the driving video (default: its first frame)")
    _add_workflow_args(p)
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
           weights: Path | None = None, calibrate: str = "first", json_path: Path | None = None,
           start_s: float = 0.0, duration_s: float | None = None, frames: int | None = None,
           audio: bool = True, progress: bool | None = None) -> dict:
    """Render; the summary gets ``faces`` (driving frames with a face) and ``audio`` (muxed or not).
    ``progress``: a bar on stderr (None: only when stderr is a terminal)."""
    from ..realtime.errors import InputError
    from ..realtime.pipeline import Pipeline, PipelineOptions

    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a folder", "give a file name such as out.mp4")
    options = PipelineOptions(portrait=source, driving=driving, output=f"file:{out}", backend=backend,
                              config=config, weights=weights, realtime=False, calibrate=calibrate, detector=False)
    span, trimmed, total = _span(driving, start_s, duration_s, frames)
    with bar(total, "render", "frame", progress) as shown, \
            Pipeline(options, on_output=lambda _: shown.update(1), source=trimmed) as pipe:
        summary = pipe.run()
    kinds = summary.get("kinds") or {}
    summary["faces"] = int(kinds.get("generated", 0))
    summary["audio"] = audio and _add_audio(summary, out, driving, span.start / trimmed.fps, trimmed.fps)
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    return summary


def _add_audio(summary: dict, out: Path, driving: Path, start_s: float, fps: float) -> bool:
    """Mux the clip's audio; a track that cannot be converted leaves the video silent, with a note."""
    import av

    from ..realtime.clip import mux_audio

    try:
        return mux_audio(out, driving, start_s, fps)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        summary.setdefault("notes", []).append(f"the driving video's audio could not be copied ({exc}); "
                                               "the output has no audio")
        return False


def _span(driving: Path, start_s: float, duration_s: float | None, frames: int | None):
    """The part of the clip to render, its source, and its length in frames when known (None otherwise).
    The clip is opened once here for its frame rate and length (a bad file is reported here)."""
    from ..realtime.capture import open_source
    from ..realtime.clip import Span, TrimmedSource

    with open_source(driving, paced=False) as probe:
        fps, count = probe.fps, getattr(probe, "frame_count", 0)
    span = Span.from_args(fps, start_s, duration_s, frames)
    total = span.count
    if count:
        total = min(total or count, count - span.start)
    return span, TrimmedSource(driving, span), total if total and total > 0 else None


def run(args: argparse.Namespace) -> int:
    from ..engines.backend import backend_class
    from .check import check_before_start

    backend_class(args.backend)  # "no GPU for TensorRT" first, before any file or camera is read
    check_before_start([args.source], args.strict, "render")
    summary = render(args.source, args.driving, args.out, args.backend, args.config, args.weights,
                     args.calibrate, args.json, args.start, args.duration, args.frames, not args.no_audio)
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
