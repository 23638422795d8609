"""Capture sources (camera index, video file replayed at its own rate, image folder) and the capture
thread that feeds the one-slot mailbox. Timestamps (``time.perf_counter_ns``) travel with each frame."""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from .errors import CameraError, InputError
from .mailbox import Mailbox
from .media import IMAGE_EXTS, is_image
from .types import Frame



class CaptureSource(ABC):
    """``read()`` -> HxWx3 uint8 BGR, or None at the end of a file source. Raises CameraError when a
    live device fails. ``paced`` sources sleep to keep their own frame rate."""

    fps: float = 30.0
    live = False
    frame_count = 0  # frames in a file source, when its header says (0: unknown, or a camera)

    def open(self) -> "CaptureSource":
        return self

    def close(self) -> None:
        pass

    @abstractmethod
    def read(self) -> np.ndarray | None: ...

    def __enter__(self) -> "CaptureSource":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


class CameraSource(CaptureSource):
    live = True

    def __init__(self, index: int, width: int = 1280, height: int = 720, fps: float = 30.0) -> None:
        self.index, self.width, self.height, self.fps = index, width, height, fps
        self._cap = None

    def open(self) -> "CameraSource":
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"camera {self.index} cannot be opened",
                              "check it is plugged in, not used by another program, and that you may use it "
                              "(Linux: add your user to the 'video' group)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.fps = cap.get(cv2.CAP_PROP_FPS) or self.fps
        self._cap = cap
        return self

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def read(self) -> np.ndarray:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraError(f"camera {self.index} stopped delivering frames", "is it unplugged or busy?")
        return frame


class VideoFileSource(CaptureSource):
    """A video file. With ``paced`` it is replayed at ``fps`` (default: its own rate), like a camera."""

    def __init__(self, path: str | Path, fps: float | None = None, paced: bool = True) -> None:
        self.path = Path(path)
        self._want_fps, self.paced = fps, paced
        self._cap = None

    def open(self) -> "VideoFileSource":
        if not self.path.is_file():
            raise InputError(f"video {self.path} does not exist", "check the path")
        from .landmarks import quiet_native_stderr

        with quiet_native_stderr():  # FFmpeg's own "moov atom not found" lines: the user gets ours instead
            cap = cv2.VideoCapture(str(self.path))
            opened = cap.isOpened()
            ok, first = cap.read() if opened else (False, None)
        if not opened:
            cap.release()
            raise InputError(f"video {self.path} cannot be decoded", "use an MP4/MOV/MKV/WebM video")
        if not ok or first is None:
            cap.release()
            raise InputError(f"video {self.path} has no frames", "use another video")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        native = cap.get(cv2.CAP_PROP_FPS)
        self.native_fps = native if native and 1 <= native <= 240 else 30.0
        self.fps = self._want_fps or self.native_fps
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._cap, self._t0, self._n = cap, None, 0
        return self

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def read(self) -> np.ndarray | None:
        if self.paced:
            if self._t0 is None:
                self._t0 = time.perf_counter()
            delay = self._t0 + self._n / self.fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        ok, frame = self._cap.read()
        if not ok:
            return None
        self._n += 1
        return frame


class ImageFolderSource(CaptureSource):
    def __init__(self, path: str | Path, fps: float = 30.0, paced: bool = True) -> None:
        self.path, self.fps, self.paced = Path(path), fps, paced

    def open(self) -> "ImageFolderSource":
        files = sorted(p for p in self.path.iterdir() if is_image(p)) if self.path.is_dir() else []
        if not files:
            raise InputError(f"folder {self.path} has no images", f"put {', '.join(sorted(IMAGE_EXTS))} files in it")
        self._files, self._i, self._t0 = files, 0, None
        return self

    def read(self) -> np.ndarray | None:
        from .imageio import load_image

        if self._i >= len(self._files):
            return None
        if self.paced:
            self._t0 = self._t0 or time.perf_counter()
            delay = self._t0 + self._i / self.fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        img = load_image(self._files[self._i])
        self._i += 1
        return img


def open_source(driving: str | int | Path, fps: float | None = None, paced: bool = True) -> CaptureSource:
    """Camera index (int or digit string), video file or image folder."""
    if isinstance(driving, int) or (isinstance(driving, str) and driving.isdigit()):
        return CameraSource(int(driving))
    p = Path(driving)
    if p.is_dir():
        return ImageFolderSource(p, fps or 30.0, paced)
    return VideoFileSource(p, fps, paced)


class CaptureThread:
    """Reads a source in its own thread into a mailbox (latest frame wins). A failing live source is
    retried with backoff; meanwhile ``error`` says what is wrong (the pipeline shows a slate)."""

    def __init__(self, source: CaptureSource, mailbox: Mailbox[Frame], stamp: bool = False,
                 backoff: tuple[float, float] = (0.1, 1.0)) -> None:
        self.source, self.mailbox, self.stamp = source, mailbox, stamp
        self.backoff = backoff
        self.error: str | None = None
        self.ended = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mimicam-capture", daemon=True)
        self.frames = 0

    def start(self) -> "CaptureThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = self.backoff[0]
        broken = False  # after a failed reopen the device is closed: retry opening, never read it
        try:
            while not self._stop.is_set():
                try:
                    if broken:
                        raise CameraError(self.error or "camera unavailable")
                    image = self.source.read()
                except CameraError as exc:
                    self.error = str(exc)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    broken = not self._reopen()
                    continue
                if image is None:
                    break
                self.error, delay = None, self.backoff[0]
                if self.stamp:
                    from .stamp import stamp_counter

                    stamp_counter(image, self.frames)
                self.mailbox.put(Frame(image, time.perf_counter_ns(), self.frames))
                self.frames += 1
        finally:
            self.ended.set()
            self.mailbox.close()

    def _reopen(self) -> bool:
        try:
            self.source.close()
            self.source.open()
        except CameraError as exc:
            self.error = str(exc)
            return False
        return True
