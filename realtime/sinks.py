"""Where output frames go: a virtual camera (pyvirtualcam), a preview window, a video file, or nowhere.

Sinks are stages (open/close, context managers) that take one frame at a time. Errors say how to fix
the problem on this OS. The file sink writes to a temporary file that replaces the target only when it
is closed after success, so no partial output is ever left where the user asked for the file."""
from __future__ import annotations

import os
import platform
import queue
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import DisplayError, InputError, VirtualCameraError


class Sink:
    name = "null"

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps

    def open(self) -> "Sink":
        return self

    def write(self, image: np.ndarray) -> None:
        pass

    def poll_key(self) -> str | None:
        """A hotkey pressed in the sink's window ("quit", "recalibrate", "next"), if any."""
        return None

    def close(self, ok: bool = True) -> None:
        pass

    def __enter__(self) -> "Sink":
        return self.open()

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close(ok=exc_type is None)


NullSink = Sink


class FileSink(Sink):
    """H.264 (yuv420p) MP4 through PyAV; every frame is kept (no drops).

    ``live``: the file is written while frames arrive in real time (demo, bench, live), so x264 runs
    with ``ultrafast`` + ``zerolatency`` (no lookahead or B-frames: each frame is encoded as it comes,
    about 8 ms of CPU at 1280x720 instead of about 30 with ``veryfast``, for files about 1.6x larger).
    Offline (render) keeps ``veryfast``, which makes smaller files.

    Encoding runs on a thread of its own (``mimicam-encoder``): ``write`` copies the frame into one of
    ``QUEUE`` preallocated buffers and returns, so the conversion to YUV and x264 overlap the next frame's
    landmarks and generator instead of adding to its latency. When the encoder is ``QUEUE`` frames behind,
    ``write`` waits for it (every frame is kept). An encoder error is raised by the next ``write`` or by
    ``close``, and the target file is then left untouched."""

    name = "file"
    PRESETS = {True: {"preset": "ultrafast", "tune": "zerolatency", "crf": "20"},
               False: {"preset": "veryfast", "crf": "20"}}
    QUEUE = 4

    def __init__(self, width: int, height: int, fps: float, path: str | Path, bitrate: int | None = None,
                 live: bool = False) -> None:
        super().__init__(width - width % 2, height - height % 2, fps)
        self.path, self.bitrate, self.live = Path(path), bitrate, live
        self._container = self._stream = self._tmp = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def open(self) -> "FileSink":
        import av

        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(f"output folder {parent} does not exist", "create it or choose another --out")
        fd, tmp = tempfile.mkstemp(prefix=".mimicam-", suffix=self.path.suffix or ".mp4", dir=parent)
        os.close(fd)
        self._tmp = Path(tmp)
        fmt = None if self.path.suffix else "mp4"
        self._container = av.open(str(self._tmp), mode="w", format=fmt)
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = self.width, self.height, "yuv420p"
        self._stream.options = dict(self.PRESETS[self.live])
        # fixed threading: x264 writes its settings into the stream; "auto" would record this machine's cores.
        # Live: slices (zerolatency: a packet per frame as it arrives); offline: frame threads
        self._stream.codec_context.thread_count = 4
        self._stream.codec_context.thread_type = "SLICE" if self.live else "FRAME"
        if self.bitrate:
            self._stream.bit_rate = self.bitrate
        self._error = None
        self._free: queue.Queue[np.ndarray] = queue.Queue()
        for _ in range(self.QUEUE):
            self._free.put(np.empty((self.height, self.width, 3), np.uint8))
        self._todo: queue.Queue[np.ndarray | None] = queue.Queue()
        self._thread = threading.Thread(target=self._encode_loop, name="mimicam-encoder", daemon=True)
        self._thread.start()
        return self

    def _encode_loop(self) -> None:
        import av

        while True:
            buf = self._todo.get()
            if buf is None:
                return
            try:
                if self._error is None:
                    frame = av.VideoFrame.from_ndarray(buf, format="bgr24")
                    for packet in self._stream.encode(frame):
                        self._container.mux(packet)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller by write/close
                self._error = exc
            finally:
                self._free.put(buf)

    def write(self, image: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        buf = self._free.get()          # waits while the encoder is QUEUE frames behind
        np.copyto(buf, image[: self.height, : self.width])
        self._todo.put(buf)

    def close(self, ok: bool = True) -> None:
        """``ok``: publish the file (rename it onto the target). An encoder error, if any, is raised when
        ``ok`` was asked for (otherwise the caller is already handling an error of its own)."""
        if self._container is None:
            return
        asked = ok
        try:
            if self._thread is not None:
                self._todo.put(None)
                self._thread.join()
                self._thread = None
            ok = ok and self._error is None
            if ok:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._container.close()
        finally:
            self._container = None
            if ok:
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)
        if asked and self._error is not None:
            raise self._error


def display_available() -> bool:
    if platform.system() in ("Windows", "Darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink(Sink):
    """OpenCV preview window. Hotkeys (``keys``: key code -> action): q / Esc quit, c recalibrate, n next
    portrait. Each hotkey is confirmed for a second by a note in the window's top-left corner: drawn into
    the window's own copy of the frame, never into the frame that is sent anywhere else."""

    name = "window"
    KEYS = {ord("q"): "quit", 27: "quit", ord("c"): "recalibrate", ord("n"): "next"}
    NOTES = {"recalibrate": "recalibrating", "next": "next portrait", "mark": "mark on/off", "freeze": "freeze",
             "verify": "verifying the last 10 s", "driver": "driver view"}
    NOTE_S = 2.0

    def __init__(self, width: int, height: int, fps: float, keys: dict[int, str] | None = None,
                 title: str = "mimicam") -> None:
        super().__init__(width, height, fps)
        self.keys = dict(self.KEYS if keys is None else keys)
        self.title = title
        self._key: str | None = None
        self._note: tuple[str, float] | None = None
        self._shown: np.ndarray | None = None

    def open(self) -> "WindowSink":
        if not display_available():  # OpenCV's GUI aborts the whole process without a display: check first
            raise DisplayError("no display for the preview window", "use --output vcam, file:PATH or null, "
                               "or run it in a desktop session")
        import cv2

        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(self.title, self.width, self.height)
        self._key = None
        return self

    def write(self, image: np.ndarray) -> None:
        import cv2

        cv2.imshow(self.title, self._with_note(image))
        k = cv2.waitKey(1) & 0xFF
        if k in self.keys:
            self._key = self.keys[k]
            if self._key in self.NOTES:
                self._note = (self.NOTES[self._key], time.monotonic() + self.NOTE_S)
        elif cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self._key = "quit"

    def _with_note(self, image: np.ndarray) -> np.ndarray:
        if self._note is None or time.monotonic() > self._note[1]:
            self._note = None
            return image
        import cv2

        if self._shown is None or self._shown.shape != image.shape:
            self._shown = np.empty_like(image)     # the window's own copy: the sent frame stays untouched
        np.copyto(self._shown, image)
        h = max(14, image.shape[0] // 24)
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, h, 2)
        (tw, th), _ = cv2.getTextSize(self._note[0], cv2.FONT_HERSHEY_DUPLEX, scale, 2)
        cv2.rectangle(self._shown, (0, 0), (tw + 2 * h, th + h), (0, 0, 0), -1)
        cv2.putText(self._shown, self._note[0], (h, th + h // 2), cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), 2,
                    cv2.LINE_AA)
        return self._shown

    def poll_key(self) -> str | None:
        key, self._key = self._key, None
        return key

    def close(self, ok: bool = True) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:  # already closed by the user
            pass


def vcam_install_hint(system: str | None = None) -> str:
    system = system or platform.system()
    if system == "Linux":
        return ("install and load v4l2loopback: sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback "
                "devices=1 exclusive_caps=1 card_label=mimicam (and add your user to the 'video' group)")
    if system == "Windows":
        return "install OBS Studio 26+ and start its Virtual Camera once (then stop it) so the driver is registered"
    if system == "Darwin":
        return "install OBS Studio 30+ and start its Virtual Camera once, allowing the system extension"
    return "no virtual camera is supported on this OS; use --output file:PATH"


class VirtualCameraSink(Sink):
    """The virtual camera that Zoom, Meet and OBS see, through pyvirtualcam's backends."""

    name = "vcam"

    def __init__(self, width: int, height: int, fps: float, device: str | None = None, backend: str | None = None,
                 camera_factory=None) -> None:
        super().__init__(width, height, fps)
        self.device, self.backend = device, backend
        self._factory = camera_factory
        self._cam = None

    def open(self) -> "VirtualCameraSink":
        try:
            import pyvirtualcam
        except ImportError:
            raise VirtualCameraError("pyvirtualcam is not installed", "pip install pyvirtualcam") from None
        factory = self._factory or pyvirtualcam.Camera
        try:
            self._cam = factory(width=self.width, height=self.height, fps=self.fps,
                                fmt=pyvirtualcam.PixelFormat.BGR, device=self.device, backend=self.backend)
        except (RuntimeError, OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VirtualCameraError(f"no virtual camera could be opened ({first})", vcam_install_hint()) from None
        self.device_name = getattr(self._cam, "device", None)
        return self

    def write(self, image: np.ndarray) -> None:
        self._cam.send(image)

    def close(self, ok: bool = True) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None


def make_sink(spec: str, width: int, height: int, fps: float, live: bool = False) -> Sink:
    """``null`` | ``window`` | ``vcam`` | ``file:PATH`` (``live``: frames arrive in real time)."""
    if spec == "null":
        return NullSink(width, height, fps)
    if spec == "window":
        return WindowSink(width, height, fps)
    if spec == "vcam":
        return VirtualCameraSink(width, height, fps)
    if spec.startswith("file:") and len(spec) > 5:
        return FileSink(width, height, fps, spec[5:], live=live)
    raise InputError(f"unknown output {spec!r}", "use vcam, window, file:PATH or null")
