"""Progress bars for the long commands (render, evaluate, train, build-engine): tqdm on stderr, with a
rate and an ETA, drawn only when stderr is a terminal (logs and pipes stay clean)."""
from __future__ import annotations

import sys


def bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool | None = None, **kw):
    """A tqdm bar; ``enabled`` None: only on a terminal. Use as a context manager or ``close()`` it."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=kw.pop("file", sys.stderr),
                dynamic_ncols=True, disable=None if enabled is None else not enabled, **kw)


def write(line: str) -> None:
    """Print a line to stdout without tearing a bar that is being drawn."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)
