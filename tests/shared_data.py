"""Where the real test data lives: ../shared/data beside the checkout (MIMICAM_SHARED overrides)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MIMICAM_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
DRIVING = DATA / "driving"
PORTRAITS = DATA / "portraits"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data {path} not found (expected ../shared/data beside the checkout)")
    return path
