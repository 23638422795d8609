"""Arguments and printing shared by the subcommands (kept here so each CLI stays thin)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("auto", "ort", "trt", "torch"), default="auto",
                   help="generator runtime (auto: TensorRT when a GPU and TensorRT are present, else ONNX Runtime)")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite", help="generator configuration")
    p.add_argument("--weights", type=Path, help="learned generator weights (.safetensors + .json from `mimicam train`); default: none, the closed-form warp")


def format_summary(summary: dict) -> str:
    lat = summary.get("capture_to_sink_ms", {})
    drops = summary.get("dropped", {})
    lines = [f"frames: {summary.get('frames', 0)}   fps: {summary.get('fps', 0.0):.1f}   "
             f"dropped: {drops.get('total', 0)}",
             "capture-to-sink latency ms: " + "  ".join(f"{k} {lat[k]:.1f}" for k in ("p50", "p95", "p99") if k in lat)]
    stages = summary.get("stages", {})
    if stages:
        lines.append("stages p50 ms: " + "  ".join(f"{n} {v['p50']:.1f}" for n, v in stages.items() if v.get("p50")))
    for name, count in (summary.get("errors") or {}).items():
        lines.append(f"errors in {name}: {count} (slates sent instead)")
    for note in summary.get("notes") or []:
        lines.append(f"note: {note}")
    return "\n".join(lines)
