"""A real X display for window tests: Xvfb on a free display number, screenshots taken by an X tool
(ImageMagick's ``import``), key presses sent as real key events (``xdotool``, XTEST)."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "import": "imagemagick"}


class XDisplay:
    def __init__(self, name: str) -> None:
        self.name = name
        self.env = {**os.environ, "DISPLAY": name}

    def run(self, *args: str, timeout: float = 20) -> str:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout, check=True).stdout

    def find_window(self, title: str, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"], env=self.env,
                                 capture_output=True, text=True, timeout=20).stdout.split()
            if out:
                return out[0]
            time.sleep(0.5)
        raise AssertionError(f"no window named {title!r} appeared within {timeout:.0f} s")

    def geometry(self, wid: str) -> tuple[int, int, int, int]:
        g = dict(line.split("=") for line in self.run("xdotool", "getwindowgeometry", "--shell", wid).split())
        return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])

    def screenshot(self) -> np.ndarray:
        """The whole screen, as an X client sees it (not read back from our process)."""
        png = subprocess.run(["import", "-window", "root", "png:-"], env=self.env, capture_output=True,
                             timeout=30, check=True).stdout
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    def window_shot(self, wid: str) -> np.ndarray:
        x, y, w, h = self.geometry(wid)
        return self.screenshot()[y:y + h, x:x + w]

    def press(self, wid: str, key: str) -> None:
        """A real key event (XTEST) with the pointer over the window, which then has the focus."""
        self.run("xdotool", "mousemove", "--window", wid, "20", "20")
        self.run("xdotool", "key", "--clearmodifiers", key)

    def wait_for(self, wid: str, check: Callable[[np.ndarray], bool], what: str, timeout: float = 60,
                 proc: subprocess.Popen | None = None) -> np.ndarray:
        """Screenshots until ``check`` holds; the last one is kept in ``self.last_shot`` for a failure report."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the program ended (exit {proc.returncode}) before the window showed {what}")
            self.last_shot = self.window_shot(wid)
            if check(self.last_shot):
                return self.last_shot
            time.sleep(0.5)
        raise AssertionError(f"the window never showed {what} within {timeout:.0f} s")


def start_xvfb() -> Iterator[XDisplay]:
    missing = [pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {', '.join(missing)} here: real-window tests need them (apt-get install -y xvfb xdotool "
                    "imagemagick)")
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1600x900x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 30)
        number = os.read(r, 16).decode().strip() if ready else ""
        if not number.isdigit():
            raise AssertionError("Xvfb did not report a display number within 30 s")
        yield XDisplay(f":{number}")
    finally:
        os.close(r)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
