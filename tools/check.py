"""`mimicam check PORTRAIT...`: is this portrait a good one to animate? Prints what was measured and one
warning per rule broken, each saying what to do. Exit 0 when every portrait is fine, 1 with warnings.
``live`` and ``render`` run the same check before they start (``--strict``: refuse a portrait with warnings)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("check", help="check that a portrait suits animation (size, pose, mouth, eyes, ...)")
    p.add_argument("portraits", nargs="+", type=Path, metavar="PORTRAIT", help="portrait image(s)")
    p.add_argument("--json", type=Path, metavar="CHECK.json", help="also write the measures and warnings as JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..realtime.portrait_check import check_portrait

    results = [check_portrait(p) for p in args.portraits]
    for r in results:
        print(r.report())
    if args.json is not None:
        doc = [{"portrait": r.name, "ok": r.ok, "measures": r.measures,
                "warnings": [{"code": w.code, "message": w.message, "advice": w.advice} for w in r.warnings]}
               for r in results]
        args.json.write_text(json.dumps({"schema": "mimicam.check/1", "portraits": doc}, indent=2))
    return 0 if all(r.ok for r in results) else 1


def check_before_start(portraits: list[Path], strict: bool, prog: str) -> None:
    """The check ``live`` and ``render`` run first: warnings on stderr; with ``strict`` a portrait with
    warnings is refused (InputError, exit 2) before any camera or file is opened."""
    from ..realtime.errors import InputError
    from ..realtime.portrait_check import check_portrait

    for path in portraits:
        result = check_portrait(path)
        for w in result.warnings:
            print(f"mimicam {prog}: portrait {path}: warning: {w}", file=sys.stderr)
        if strict and not result.ok:
            raise InputError(f"portrait {path} has {len(result.warnings)} warning(s) and --strict was given",
                             "pick a portrait that passes 'mimicam check', or leave out --strict")
