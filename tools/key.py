"""`mimicam key show|rotate [--keep-old]`: the watermark key of this install.

``show`` prints the key's public fingerprint, its file and mode, and the retired keys kept for
verification. ``rotate`` makes a new key for future marks; the old one is deleted (its marks can then
be attributed by nobody) unless ``--keep-old`` keeps it under ``retired/`` for ``mimicam verify``.
"""
from __future__ import annotations

import argparse
import stat


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("key", help="show or rotate this install's watermark key")
    p.add_argument("action", choices=("show", "rotate"))
    p.add_argument("--keep-old", action="store_true",
                   help="rotate: keep the old key for verification only (default: delete it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engines.files import user_config_dir
    from ..realtime.provenance.keys import KEY_FILE, fingerprint, load_keys, rotate_key

    directory = user_config_dir()
    if args.action == "rotate":
        key, kept = rotate_key(directory, keep_old=args.keep_old)
        print(f"new key {fingerprint(key)} in {directory / KEY_FILE}")
        print(f"old key kept for verification only: {kept}" if kept else "old key deleted (if there was one)")
        return 0
    keys = load_keys(directory)
    if not keys:
        print(f"no key in {directory} (one is made by the first attributed `mimicam live`/`render`)")
        return 0
    for name, key in keys:
        path = directory / KEY_FILE if name == "current" else directory / "retired" / name.split(":", 1)[1]
        mode = stat.S_IMODE(path.stat().st_mode)
        print(f"{name:<40} {fingerprint(key)}  {path}  mode {mode:o}")
    return 0
