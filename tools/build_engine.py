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
    """TensorRT builder phases as tqdm bars (nested phases stacked), with rate and ETA; drawn only when
    the stream is a terminal."""

    def __init__(self, stream=sys.stderr, enabled: bool | None = None) -> None:
        self.stream, self.enabled = stream, enabled
        self._bars: dict[str, object] = {}

    def __call__(self, event: str, phase: str, step: int, steps: int) -> None:
        from .progress import bar

        if event == "start":
            self._bars[phase] = bar(steps or None, f"  {phase}", "step", self.enabled, file=self.stream,
                                    position=len(self._bars))
        shown = self._bars.get(phase)
        if shown is None:
            return
        shown.update(step - shown.n)
        if event == "finish":
            self._bars.pop(phase).close()

    def close(self) -> None:
        for shown in self._bars.values():
            shown.close()
        self._bars.clear()


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
        printer = ProgressPrinter()
        try:
            engine = ensure_engine(path, spec, opts, progress=printer, force=args.force)
        finally:
            printer.close()
        print(f"  -> {engine} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 0
