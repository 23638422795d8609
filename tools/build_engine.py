"""``mimicam build-engine``: build (or find cached) TensorRT engines for both generator graphs on
this machine's GPU, with a progress display. Engines are only ever built locally."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..realtime.errors import BackendUnavailable


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("build-engine", help="build the TensorRT engines for this GPU",
                              description="Export the generator's ONNX graphs and build TensorRT engines for "
                                          "this machine's NVIDIA GPU into the user cache (reused when current).")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite")
    p.add_argument("--precision", choices=("fp16", "fp32"), default="fp16")
    p.add_argument("--weights", type=Path, help="generator weights (default: none, the closed-form prior)")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid engine is cached")
    p.set_defaults(func=run)
    return p


class ProgressPrinter:
    """Prints TensorRT builder phases: one updating line on a terminal, plain lines otherwise."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()
        self._last = 0.0

    def __call__(self, event: str, phase: str, step: int, steps: int) -> None:
        if self.tty:
            now = time.monotonic()
            if event == "step" and now - self._last < 0.1:
                return
            self._last = now
            self.stream.write(f"\r\033[K  {phase}: {step}/{steps}")
        elif event == "finish":
            self.stream.write(f"  {phase}: done ({steps} steps)\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from ..engines import _gpu
    from ..engines.config import get_config
    from ..engines.graphs import ensure_graphs
    from ..engines.spec import graph_specs
    from ..engines.trt_build import BuildOptions, ensure_engine

    reason = _gpu.unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"cannot build TensorRT engines here: {reason}",
                                 "engines are built on the NVIDIA machine that runs them; on CPU use --backend ort")
    cfg = get_config(args.config)
    print(f"exporting ONNX graphs for {cfg.name} ...", file=sys.stderr)
    paths = ensure_graphs(cfg, args.weights)
    opts = BuildOptions(precision=args.precision)
    gpu = _gpu.driver_info().gpu_name
    for path, spec in zip(paths, graph_specs(cfg)):
        print(f"{spec.graph} ({args.precision}) for {gpu}:", file=sys.stderr)
        t0 = time.monotonic()
        engine = ensure_engine(path, spec, opts, progress=ProgressPrinter(), force=args.force)
        clear = "\r\033[K" if sys.stderr.isatty() else ""
        print(f"{clear}  -> {engine} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 0
