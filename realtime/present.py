"""Presenter mode: a stage around the live Pipeline that shows, in one view, the driving camera, the
avatar exactly as the pipeline finished it (mark and badge included), a provenance panel and a latency
sparkline, and sends that view to a window, the virtual camera or a file.

Wiring: the pipeline gets a ``_PresenterSink`` (its avatar sink: keys come back through it), a
``_DriverTap`` around its capture source (the driving frame each output answers) and ``on_output``.
The whole view is what goes out: a talk projected through OBS wants all of it. The last 10 s of avatar
frames are kept in memory only (grey, at most 640 px wide) for the "verify" hotkey, which runs the
stream verifier in a background thread and shows the exit code and its meaning.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from .capture import CaptureSource, open_source
from .errors import InputError
from .pipeline import Pipeline, PipelineOptions
from .present_layout import DRIVER_MODES, VERIFY_MEANING, PanelState, PresenterCanvas, PresenterLayout
from .sinks import Sink, WindowSink, display_available, make_sink
from .types import OutputFrame

PRESENT_KEYS = {ord("q"): "quit", 27: "quit", ord("c"): "recalibrate", ord("n"): "next", ord("w"): "mark",
                ord("f"): "freeze", ord("v"): "verify", ord("b"): "driver"}
VERIFY_SECONDS = 10.0
SPARK_SAMPLES = 150


@dataclass(frozen=True)
class PresentOptions:
    pipeline: PipelineOptions            # its ``output`` is ignored: the view goes to ``output``
    output: str = "window"               # window | vcam | file:PATH | null
    driver_mode: str | None = None       # None: "show" for a window or a --video input, else "hide"
    loop: bool = False                   # a video input starts over when it ends
    layout: PresenterLayout = field(default_factory=PresenterLayout)

    def __post_init__(self) -> None:
        if self.driver_mode is not None and self.driver_mode not in DRIVER_MODES:
            raise InputError(f"driver view {self.driver_mode!r} is unknown", f"use one of {', '.join(DRIVER_MODES)}")

    def initial_driver_mode(self) -> str:
        """The real face leaves the machine only when asked: camera input to vcam or file starts hidden."""
        if self.driver_mode is not None:
            return self.driver_mode
        from_camera = isinstance(self.pipeline.driving, int) or str(self.pipeline.driving).isdigit()
        return "show" if self.output == "window" or not from_camera else "hide"


class _DriverTap(CaptureSource):
    """Passes a capture source through, keeping the last few frames by capture index (references only:
    the capture thread hands a new array per read)."""

    def __init__(self, inner: CaptureSource, keep: int = 16, loop: bool = False) -> None:
        self.inner, self.frames, self.loop = inner, deque(maxlen=keep), loop
        self._n = 0

    def open(self) -> "_DriverTap":
        self.inner.open()
        self.fps, self.live = self.inner.fps, self.inner.live
        return self

    def close(self) -> None:
        self.inner.close()

    def read(self) -> np.ndarray | None:
        image = self.inner.read()
        if image is None and self.loop and self._n > 0:     # a rehearsal video starts over
            self.inner.close()
            self.inner.open()
            image = self.inner.read()
        if image is not None:
            self.frames.append((self._n, image))
            self._n += 1
        return image

    def get(self, index: int) -> np.ndarray | None:
        """The frame read as number ``index``; when the capture ran further ahead than ``keep`` frames, the
        oldest kept (the nearest); None for a slate that answers no frame (``index`` < 0)."""
        frames = list(self.frames)
        if index < 0 or not frames:
            return None
        return next((image for n, image in reversed(frames) if n <= index), frames[0][1])


class _PresenterSink(Sink):
    """The pipeline's avatar sink: it opens and closes the real outputs and returns the pipeline's keys;
    the view itself is drawn in ``Presenter.on_output`` (which has the frame's timing)."""

    name = "present"

    def __init__(self, presenter: "Presenter") -> None:
        super().__init__(0, 0, 30.0)
        self.presenter = presenter

    def open(self) -> "_PresenterSink":
        self.presenter.open_outputs()
        return self

    def poll_key(self) -> str | None:
        return self.presenter.poll_key()

    def close(self, ok: bool = True) -> None:
        self.presenter.close_outputs(ok)


class VerifyBuffer:
    """The last ``seconds`` of output frames, grey, at most ``max_side`` px, in a ring allocated once."""

    def __init__(self, fps: float, shape: tuple[int, int], seconds: float = VERIFY_SECONDS, max_side: int = 640):
        h, w = shape
        self.scale = min(1.0, max_side / max(h, w))
        self.size = (max(32, round(w * self.scale)), max(32, round(h * self.scale)))
        self.ring = np.zeros((max(1, int(round(fps * seconds))), self.size[1], self.size[0]), np.uint8)
        self._grey = np.empty((h, w), np.uint8)
        self.count = 0

    def add(self, image: np.ndarray) -> None:
        if image.shape[:2] != self._grey.shape:
            return                                  # a frame of another size is not part of this stream
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=self._grey)
        slot = self.ring[self.count % len(self.ring)]
        cv2.resize(self._grey, self.size, dst=slot, interpolation=cv2.INTER_AREA)
        self.count += 1

    def snapshot(self) -> np.ndarray:
        """The buffered frames, oldest first (a copy)."""
        n = min(self.count, len(self.ring))
        start = self.count % len(self.ring) if self.count >= len(self.ring) else 0
        return np.roll(self.ring, -start, axis=0)[:n].copy()


class Presenter:
    """Stage: ``run()`` drives the pipeline and the view; see the module docstring."""

    def __init__(self, options: PresentOptions, outputs: list[Sink] | None = None,
                 source: CaptureSource | None = None) -> None:
        self.options = options
        self._given_outputs = outputs
        self.layout = options.layout
        self.canvas = PresenterCanvas(self.layout)
        self.driver_mode = options.initial_driver_mode()
        self.frozen = False
        self.latency_ms: deque[float] = deque(maxlen=SPARK_SAMPLES)
        self._all_latency_ms: list[float] = []
        self._t_views: deque[int] = deque(maxlen=60)
        self.verify_line = f"press v to verify the last {VERIFY_SECONDS:.0f} s"
        self.verify_code: int | None = None
        self._verify_thread: threading.Thread | None = None
        self.tap = _DriverTap(source or open_source(options.pipeline.driving, options.pipeline.fps, paced=True),
                              loop=options.loop)
        self.pipeline = Pipeline(options.pipeline, sink=_PresenterSink(self), source=self.tap,
                                 on_output=self.on_output)
        self.outputs: list[Sink] = []
        self.buffer: VerifyBuffer | None = None
        self.views = 0
        self.driver: np.ndarray | None = None      # the driving frame of the last view
        self.last_state: PanelState | None = None  # and what its panels said

    # --- outputs ----------------------------------------------------------------------------------
    def open_outputs(self) -> None:
        w, h, fps = self.layout.width, self.layout.height, float(self.options.pipeline.fps or self.tap.fps)
        if self._given_outputs is not None:
            self.outputs = list(self._given_outputs)
        elif self.options.output == "window":
            self.outputs = [WindowSink(w, h, fps, keys=PRESENT_KEYS, title="mimicam present")]
        else:
            self.outputs = [make_sink(self.options.output, w, h, fps)]
            if self.options.output == "vcam" and display_available():   # the hotkeys need a window
                self.outputs.append(WindowSink(w, h, fps, keys=PRESENT_KEYS, title="mimicam present"))
        opened = []
        try:
            for sink in self.outputs:
                opened.append(sink.open())
        except BaseException:
            for sink in opened:
                sink.close(ok=False)
            raise

    def close_outputs(self, ok: bool) -> None:
        for sink in self.outputs:
            sink.close(ok=ok)
        self.outputs = []
        if self._verify_thread is not None:
            self._verify_thread.join(timeout=30)

    # --- per frame (pipeline thread) ----------------------------------------------------------------
    def state(self) -> PanelState:
        pipe = self.pipeline
        v = pipe.detector.verdict if pipe.detector is not None else None
        fps = None
        if len(self._t_views) >= 2:
            fps = (len(self._t_views) - 1) / max(1e-9, (self._t_views[-1] - self._t_views[0]) / 1e9)
        return PanelState(
            badge_text=pipe.finisher.text() if pipe.finisher is not None else "SYNTHETIC",
            mark_on=pipe.finisher is not None and pipe.finisher.mark_on and pipe.watermarker is not None,
            mac=("none" if v is None or v.verdicts == 0 else v.status), p_value=None if v is None else v.p_value,
            verdicts=0 if v is None else v.verdicts, classifier_score=None if v is None else v.classifier_score,
            verify_line=self.verify_line, driver_mode=self.driver_mode, frozen=self.frozen,
            latency_ms=tuple(self.latency_ms), fps=fps)

    def on_output(self, out: OutputFrame) -> None:
        if self.buffer is None:
            self.buffer = VerifyBuffer(self.pipeline.fps, out.image.shape[:2])
        self.buffer.add(out.image)
        self.driver = self.tap.get(out.source_index)
        self.last_state = self.state()
        view = self.canvas.draw(self.driver, out.image, self.last_state)
        for sink in self.outputs:
            sink.write(view)
        t = time.perf_counter_ns()
        self._t_views.append(t)
        if out.source_index >= 0:
            self.latency_ms.append((t - out.t_capture_ns) / 1e6)
            self._all_latency_ms.append(self.latency_ms[-1])
        self.views += 1

    def poll_key(self) -> str | None:
        """Keys from the window(s): the pipeline's own are returned to it, the presenter's handled here."""
        for sink in self.outputs:
            key = sink.poll_key()
            if key is not None:
                return self.handle(key)
        return None

    def handle(self, key: str) -> str | None:
        """Act on a presenter key (``mark``, ``freeze``, ``verify``, ``driver``); others -> the pipeline."""
        if key == "mark" and self.pipeline.finisher is not None:
            self.pipeline.finisher.mark_on = not self.pipeline.finisher.mark_on
        elif key == "freeze":
            self.frozen = not self.frozen
        elif key == "driver":
            self.driver_mode = DRIVER_MODES[(DRIVER_MODES.index(self.driver_mode) + 1) % len(DRIVER_MODES)]
        elif key == "verify":
            self.verify_recent()
        else:
            return key
        return None

    # --- "verify the last 10 s" -----------------------------------------------------------------------
    def verify_recent(self) -> None:
        if self._verify_thread is not None and self._verify_thread.is_alive():
            return
        if self.buffer is None or self.buffer.count == 0:
            self.verify_line = "verify: no frames yet"
            return
        frames, scale = self.buffer.snapshot(), self.buffer.scale
        self.verify_line = f"verify: checking {len(frames)} frames ..."
        self._verify_thread = threading.Thread(target=self._verify, args=(frames, scale), name="mimicam-verify",
                                               daemon=True)
        self._verify_thread.start()

    def _verify(self, frames: np.ndarray, scale: float) -> None:
        from .provenance.check import verify_stream
        from .provenance.keys import load_or_create_key

        try:
            report = verify_stream((cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in frames), load_or_create_key(),
                                   window=30, scales=(scale,), source="last 10 s")
        except Exception as exc:  # noqa: BLE001 - shown in the panel; the show goes on
            self.verify_line = f"verify failed: {exc}"
            return
        self.verify_code = report.exit_code
        self.verify_line = f"verify {len(frames)} frames: exit {report.exit_code} - {VERIFY_MEANING[report.exit_code]}"

    # --- stage --------------------------------------------------------------------------------------
    def open(self) -> "Presenter":
        self.pipeline.open()
        return self

    def close(self, ok: bool = True) -> None:
        self.pipeline.close(ok=ok)

    def __enter__(self) -> "Presenter":
        return self.open()

    def __exit__(self, exc_type, *exc: object) -> None:
        self.pipeline.__exit__(exc_type, *exc)

    def run(self) -> dict:
        summary = self.pipeline.run()
        from .metrics import latency_stats

        summary["view_latency_ms"] = latency_stats(np.asarray(self._all_latency_ms))
        return summary

    def stop(self) -> None:
        self.pipeline.stop()
