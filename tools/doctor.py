"""`mimicam doctor`: what works on this machine and how to fix what does not."""
from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("doctor", help="check camera, virtual camera, ONNX Runtime, TensorRT/GPU and models")
    p.add_argument("--camera", type=int, default=0, metavar="N", help="camera index to try (default 0)")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite", help="config whose engine cache to check")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.doctor import report

    text, essentials_ok = report(args.camera, args.config)
    print(text)
    return 0 if essentials_ok else 1
