"""Soak benchmark: ``python -m mimicam.tools.soak --frames 10000`` runs the full pipeline (null sink) on a
looping driving clip and reports RSS growth after warm-up and thread counts; exit 1 when RSS grows by
5 MB or more, or threads grow. A benchmark, not a CI test."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_size_arg


def default_warmup(frames: int) -> int:
    """500 frames, or a fifth of a shorter run (a short soak still gets a baseline after set-up)."""
    return min(500, max(1, frames // 5))


def main(argv: list[str] | None = None) -> int:
    from ..realtime.assets import demo_driving_path, demo_portrait_path
    from ..realtime.errors import MimicamError
    from ..realtime.soak import RSS_LIMIT_MB, run_soak

    p = argparse.ArgumentParser(prog="python -m mimicam.tools.soak", description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--warmup", type=int, help="frames before the RSS baseline is taken (default: 500, or a "
                   "fifth of --frames when that is 2500 or fewer)")
    p.add_argument("--every", type=int, default=250, help="sample every N frames")
    p.add_argument("--portrait", "--source", dest="portrait", type=Path, help="default: the shipped demo portrait")
    p.add_argument("--video", "--driving", dest="video", type=Path,
                   help="driving video, looped (default: the shipped demo clip; --driving: the old name)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--config", default="lite")
    add_size_arg(p)
    p.add_argument("--json", type=Path, help="write the samples and verdict here")
    a = p.parse_args(argv)
    if a.frames < 2:
        p.error("--frames must be at least 2")
    a.warmup = default_warmup(a.frames) if a.warmup is None else a.warmup
    if a.frames <= a.warmup:
        p.error("--frames must be larger than --warmup")
    try:
        r = run_soak(a.frames, a.warmup, a.portrait or demo_portrait_path(), a.video or demo_driving_path(),
                     a.backend, a.config, a.every, size=a.size)
    except MimicamError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if a.json:
        a.json.write_text(json.dumps(r, indent=2))
    print(f"frames {r['frames']} ({r['loops']} loops of the clip)  fps {r['fps']:.1f}  errors {r['errors'] or 0}")
    print(f"RSS after {r['warmup']}-frame warm-up {r['rss_after_warmup_mb']:.1f} MB, end {r['rss_end_mb']:.1f} MB, "
          f"max {r['rss_max_mb']:.1f} MB: growth {r['rss_growth_mb']:+.2f} MB (limit {RSS_LIMIT_MB:g})")
    print(f"threads (python/os) after warm-up {r['threads_after_warmup']}, end {r['threads_end']}, "
          f"after close {r['threads_after_close']}")
    print("soak: PASS" if r["ok"] else "soak: FAIL")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
