"""live at the command line: no camera at all is one error line and exit 2 before any slate or output
file; the portrait check runs first and --strict refuses a portrait with warnings."""
from __future__ import annotations

import subprocess
import sys

from shared_data import PORTRAITS, need


def _live(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mimicam.tools.cli", "live", *args], capture_output=True,
                          text=True, timeout=300)


def test_no_camera_exits_2_before_any_slate(tmp_path):
    out = tmp_path / "o.mp4"
    r = _live("--source", str(need(PORTRAITS / "lp_s2_man_bw_photo.jpg")), "--camera", "9",
              "--output", f"file:{out}", "--frames", "5")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("mimicam live: error: camera 9 cannot be opened")
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no slate was written anywhere


def test_strict_refuses_before_the_camera(tmp_path):
    r = _live("--source", str(need(PORTRAITS / "avatarify_obama.jpg")), "--camera", "9", "--output", "null",
              "--strict")
    assert r.returncode == 2 and "warning: the picture ends at the chin" in r.stderr
    assert "--strict" in r.stderr.strip().splitlines()[-1] and "camera 9" not in r.stderr
