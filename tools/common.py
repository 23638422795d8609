"""Arguments and printing shared by the subcommands (kept here so each CLI stays thin)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("auto", "ort", "trt", "torch"), default="auto",
                   help="generator runtime (auto: TensorRT when a GPU and TensorRT are present, else ONNX Runtime)")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite", help="generator configuration")
    p.add_argument("--weights", type=Path, help="learned generator weights (.safetensors + .json from `mimicam train`); default: none, the closed-form warp")


def size_arg(text: str) -> tuple[int, int]:
    """argparse type of ``--size WxH``: a bad size is a one-line usage error that says what to write."""
    from ..realtime.canvas import parse_size
    from ..realtime.errors import InputError

    try:
        return parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_size_arg(p: argparse.ArgumentParser, live: bool = True) -> None:
    """``--size WxH``: the output canvas (live default 1280x720; render default the portrait's aspect)."""
    from ..realtime.canvas import DEFAULT_SIZE, MAX_RENDER_SIDE, MIN_RENDER_SHORT

    w, h = DEFAULT_SIZE
    if live:
        p.add_argument("--size", type=size_arg, default=DEFAULT_SIZE, metavar="WxH",
                       help=f"output size; the portrait is fitted without distortion and padded (default {w}x{h})")
    else:
        p.add_argument("--size", type=size_arg, default=None, metavar="WxH",
                       help=f"output size (default: the portrait's own aspect, at least {MIN_RENDER_SHORT} px on its "
                            f"shorter side, at most {MAX_RENDER_SIDE} on its longer); the portrait is fitted "
                            "without distortion and padded")


def add_live_inputs(p: argparse.ArgumentParser, video_help: str) -> None:
    """The portraits and the driver of a live session: ``--portrait`` (one or more; 'n' cycles them) and
    ``--camera N`` or ``--video FILE`` (``--source``: the portraits' old name)."""
    p.add_argument("--portrait", "--source", dest="portrait", required=True, type=Path, nargs="+",
                   help="portrait image(s); 'n' cycles them (--source: the old name)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=0, metavar="N", help="camera index (default 0)")
    src.add_argument("--video", type=Path, help=video_help)


def format_summary(summary: dict) -> str:
    drops = summary.get("dropped", {})
    fps = summary.get("fps") or 0.0
    if summary.get("mode") == "offline":  # no camera: what counts is the time per frame and the speed
        lat, speed = summary.get("processing_ms", {}), summary.get("speed_x_realtime")
        lines = [f"frames: {summary.get('frames', 0)}   processed at {fps:.1f} frames/s"
                 + (f" = {speed:.2f}x real time ({summary['media_fps']:g} fps video)" if speed else ""),
                 "processing time per frame ms: "
                 + "  ".join(f"{k} {lat[k]:.1f}" for k in ("p50", "p95", "p99") if lat.get(k) is not None)]
    else:
        lat = summary.get("capture_to_sink_ms", {})
        lines = [f"frames: {summary.get('frames', 0)}   fps: {fps:.1f}   dropped: {drops.get('total', 0)}",
                 "capture-to-sink latency ms: "
                 + "  ".join(f"{k} {lat[k]:.1f}" for k in ("p50", "p95", "p99") if lat.get(k) is not None)]
    stages = summary.get("stages", {})
    if stages:
        lines.append("stages p50 ms: " + "  ".join(f"{n} {v['p50']:.1f}" for n, v in stages.items() if v.get("p50")))
    for name, count in (summary.get("errors") or {}).items():
        lines.append(f"errors in {name}: {count} (slates sent instead)")
    health = summary.get("health") or {}
    if health.get("generator_stalls"):
        lines.append(f"generator stalls: {health['generator_stalls']} (the generator took too long; slates sent)")
    if health.get("mark_badge_failures"):
        lines.append(f"marking/badging failures: {health['mark_badge_failures']} (slates sent instead)")
    if health.get("detector_error"):
        lines.append(f"the provenance detector stopped: {health['detector_error']} (the badge stays 'SYNTHETIC')")
    for note in summary.get("notes") or []:
        lines.append(f"note: {note}")
    return "\n".join(lines)
