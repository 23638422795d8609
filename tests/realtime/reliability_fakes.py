"""Fakes and helpers shared by the reliability tests: a scriptable camera, a faulty generator backend,
a recording sink, small real portraits/clips, and the checks "badge present" / "no camera pixels"."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from mimicam.realtime.badge import _render
from mimicam.realtime.capture import CaptureSource
from mimicam.realtime.errors import CameraError
from mimicam.realtime.sinks import Sink


def read_clip(path: Path, n: int, size: tuple[int, int] = (320, 320)) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
    cap.release()
    return frames


def small_portrait(src: Path, dst: Path, width: int = 320) -> Path:
    img = cv2.imread(str(src))
    h = int(round(img.shape[0] * width / img.shape[1]))
    cv2.imwrite(str(dst), cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
    return dst


class ScriptedCamera(CaptureSource):
    """A live camera whose health the test sets: "ok", "read_error" (open works, reads fail) or "gone"
    (unplugged: reads and opens fail). Paced at ``fps`` like a real device; records every open."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0, state: str = "ok") -> None:
        self.frames, self.fps, self.state = frames, fps, state
        self.opens: list[float] = []
        self.reads = self.closes = 0
        self.is_open = False
        self._i = 0
        self._next = 0.0

    def open(self) -> "ScriptedCamera":
        self.opens.append(time.monotonic())
        if self.state == "gone":
            raise CameraError("camera 0 cannot be opened", "is it plugged in?")
        self.is_open = True
        return self

    def close(self) -> None:
        self.closes += 1
        self.is_open = False

    def read(self) -> np.ndarray:
        if not self.is_open:
            raise AssertionError("read() on a closed camera")
        self.reads += 1
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next, time.monotonic()) + 1.0 / self.fps
        if self.state != "ok":
            raise CameraError("camera 0 stopped delivering frames", "is it unplugged or busy?")
        img = self.frames[self._i % len(self.frames)].copy()
        self._i += 1
        return img


class FakeBackend:
    """Generator stand-in: a flat grey face crop, or the fault that ``schedule(call_no)`` names:
    "raise", "nan", "stall" (blocks until ``release`` is set or ``stall_s`` passes) or None.
    With ``inner`` it delegates the good calls to a real backend."""

    name = "fake"

    def __init__(self, size: int = 128, schedule=None, inner=None, stall_s: float = 3600.0) -> None:
        self.inner, self.schedule, self.stall_s = inner, schedule or (lambda i: None), stall_s
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = False
        self._image = np.full((1, 3, size, size), 0.5, np.float32)
        self._mask = np.ones((1, 1, size, size), np.float32)

    def set_source(self, source, kp, jac) -> None:
        if self.inner is not None:
            self.inner.set_source(source, kp, jac)

    def generate(self, kp, jac):
        i, self.calls = self.calls, self.calls + 1
        fault = self.schedule(i)
        self.entered.set()
        if fault == "raise":
            raise RuntimeError("injected generator failure")
        if fault == "stall":
            self.release.wait(self.stall_s)
        outputs = self.inner.generate(kp, jac) if self.inner is not None else (self._image, self._mask)
        image = outputs[0]
        if fault == "nan":
            image = image.copy()
            image[0, :, 40:60, 40:60] = np.nan
        return (image, *outputs[1:])

    def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            self.inner.close()


class RecordingSink(Sink):
    """Keeps (kind-less) copies of what it is sent; says "quit" after ``quit_after`` frames."""

    name = "recording"

    def __init__(self, width: int = 0, height: int = 0, fps: float = 30.0, quit_after: int | None = None,
                 keep: bool = True) -> None:
        super().__init__(width, height, fps)
        self.quit_after, self.keep = quit_after, keep
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.count = 0
        self.opened = self.closed = False
        self.closed_ok: bool | None = None

    def open(self) -> "RecordingSink":
        self.opened = True
        return self

    def write(self, image: np.ndarray) -> None:
        self.count += 1
        self.times.append(time.monotonic())
        if self.keep:
            self.frames.append(image.copy())

    def poll_key(self) -> str | None:
        return "quit" if self.quit_after is not None and self.count >= self.quit_after else None

    def close(self, ok: bool = True) -> None:
        self.closed, self.closed_ok = True, ok


def has_badge(image: np.ndarray, text: str = "SYNTHETIC") -> bool:
    """The visible badge is burned in exactly (it is drawn last, over everything)."""
    h, w = image.shape[:2]
    patch, (x, y) = _render(w, h, text)
    return bool(np.array_equal(image[y:y + patch.shape[0], x:x + patch.shape[1]], patch))


def shows_camera(output: np.ndarray, driving: np.ndarray, block: int = 16) -> bool:
    """True when any textured block of the driving frame (as is, or resized to the output the way the
    pipeline resizes) appears unchanged at the same place in the output."""
    h, w = output.shape[:2]
    candidates = [cv2.resize(driving, (w, h), interpolation=cv2.INTER_AREA)]
    if driving.shape[0] <= h and driving.shape[1] <= w:
        candidates.append(np.pad(driving, ((0, h - driving.shape[0]), (0, w - driving.shape[1]), (0, 0))))
    for ref in candidates:
        for y in range(0, h - block + 1, block):
            for x in range(0, w - block + 1, block):
                r = ref[y:y + block, x:x + block]
                if r.std() > 2.0 and np.array_equal(r, output[y:y + block, x:x + block]):
                    return True
    return False


def mimicam_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("mimicam"))


def wait_until(cond, timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


# --- fixtures (import them into a test module by name) ------------------------------------------------
import pytest  # noqa: E402

from shared_data import DRIVING, PORTRAITS, need  # noqa: E402


@pytest.fixture(scope="session")
def small_portrait_path(tmp_path_factory) -> Path:
    return small_portrait(need(PORTRAITS / "skimage_astronaut_eileen_collins.png"),
                          tmp_path_factory.mktemp("portrait") / "astronaut_320.png")


@pytest.fixture(scope="session")
def clip_frames() -> list[np.ndarray]:
    return read_clip(need(DRIVING / "lp_d9_man_glasses_webcam.mp4"), 60)


@pytest.fixture()
def fake_backend(monkeypatch):
    """Patch the pipeline's backend factory; set ``holder["backend"]`` to the FakeBackend to use."""
    import mimicam.realtime.pipeline as pl

    holder: dict = {}

    def factory(name, cfg, weights=None):
        holder.setdefault("backend", FakeBackend(cfg.image_size))
        return holder["backend"]

    monkeypatch.setattr(pl, "open_backend", factory)
    return holder


class ListSource(CaptureSource):
    """In-memory driving frames (a copy each read), optionally looped ``loops`` times; ends with None."""

    def __init__(self, frames: list[np.ndarray], loops: int = 1, fps: float = 30.0) -> None:
        self.frames, self.loops, self.fps = frames, loops, fps
        self.i = 0
        self.closed = False

    def read(self):
        if self.i >= len(self.frames) * self.loops:
            return None
        self.i += 1
        return self.frames[(self.i - 1) % len(self.frames)].copy()

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def faulty_ort(monkeypatch):
    """Patch the pipeline's backend factory to wrap the real ONNX Runtime backend in a FakeBackend
    whose schedule/stall the test sets through ``holder``."""
    import mimicam.realtime.pipeline as pl
    from mimicam.engines.backend import open_backend

    holder: dict = {"schedule": None, "stall_s": 3600.0}

    def factory(name, cfg, weights=None):
        holder["backend"] = FakeBackend(cfg.image_size, holder["schedule"], open_backend("ort", cfg, weights),
                                        holder["stall_s"])
        return holder["backend"]

    monkeypatch.setattr(pl, "open_backend", factory)
    return holder
