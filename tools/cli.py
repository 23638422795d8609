"""`mimicam` command line: a thin dispatcher. Each subcommand lives in its own module under
``mimicam.tools`` exposing ``add_parser(subparsers)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand -> module under mimicam.tools
COMMANDS = {
    "demo": "demo",
    "live": "live",
    "render": "render",
    "bench": "bench",
    "verify": "verify",
    "key": "key",
    "doctor": "doctor",
    "train": "train",
    "build-engine": "build_engine",
    "evaluate": "evaluate",
    "check": "check",
    "present": "present",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimicam", description="Real-time face reenactment with provenance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"mimicam.tools.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mimicam.tools.{module}":
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..realtime.errors import MimicamError

    os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging quiet
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # probing a missing camera is reported by us, not OpenCV
    os.environ.setdefault("OPENCV_VIDEOIO_PRIORITY_OBSENSOR", "0")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MimicamError as exc:
        print(f"mimicam {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mimicam {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
