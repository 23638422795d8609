"""The live process: capture -> landmarks -> motion -> generator -> compose -> mark -> badge -> sink.

The pipeline only wires stages. Fail-closed: a frame that cannot be generated, marked or badged is
replaced by a labelled slate; the driving (real) frame is never sent anywhere.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..engines.backend import backend_class, open_backend
from ..engines.config import get_config
from .finish import Finisher
from .capture import CaptureSource, CaptureThread, open_source
from .compose import Compositor, even_size
from .errors import InputError
from .landmarks import LandmarkStage
from .mailbox import Mailbox
from .metrics import STAGES, FrameRecord, MetricsRecorder
from .motion import MotionTransfer
from .portrait import Portrait, prepare_portrait
from .sinks import Sink, make_sink
from .types import Frame, OutputFrame
from .watchdog import Deadline, Stalled

log = logging.getLogger("mimicam")
_S = {name: i for i, name in enumerate(STAGES)}


@dataclass(frozen=True)
class PipelineOptions:
    portrait: Path | str
    driving: str | int | Path
    output: str = "null"
    backend: str = "auto"
    config: str = "lite"
    weights: Path | None = None
    fps: float | None = None
    realtime: bool = True
    max_frames: int | None = None
    stamp: bool = False
    calibrate: str | None = None  # "steady" (live default) | "first" (offline default)
    watermark: bool = True
    detector: bool = True
    more_portraits: tuple[Path | str, ...] = field(default_factory=tuple)  # the "next portrait" hotkey cycles
    provenance: str = "attributed"  # "anonymous": the public mark only, no key, nothing attributable

    def __post_init__(self) -> None:
        if self.provenance not in ("attributed", "anonymous"):
            raise InputError(f"provenance: expected 'attributed' or 'anonymous', got {self.provenance!r}")


class Pipeline:
    # a generator call that takes longer is abandoned: slates are sent until it returns (live / offline)
    stall_timeout_s: tuple[float, float] = (2.0, 30.0)

    def __init__(self, options: PipelineOptions, recorder: MetricsRecorder | None = None,
                 on_output: Callable[[OutputFrame], None] | None = None, sink: Sink | None = None,
                 source: CaptureSource | None = None) -> None:
        self.options = options
        self.recorder = recorder if recorder is not None else MetricsRecorder()
        self.on_output = on_output
        self.cfg = get_config(options.config)
        self.errors: dict[str, int] = {}
        self.notes: list[str] = []
        self._sink = sink
        self._source = source
        self._stop = threading.Event()
        self._opened = False

    # --- set-up -----------------------------------------------------------------------------------
    def open(self) -> "Pipeline":
        try:
            self._open_stages()
        except BaseException:
            self._opened = True  # release whatever was opened before the failure
            self.close(ok=False)
            raise
        self._opened = True
        return self

    def _open_stages(self) -> None:
        o = self.options
        self.source = self.sink = self.backend = self.deadline = self.landmarks = None
        self.watermarker = self.detector = self.finisher = None
        backend_class(o.backend)  # first: "no GPU for TensorRT" is said before any camera or file is opened
        self.portraits = [o.portrait, *o.more_portraits]
        self._pi = 0
        self.portrait = prepare_portrait(o.portrait, self.cfg.image_size)
        if self.portrait.note:
            self.notes.append(f"{self.portrait.name}: {self.portrait.note}")
        self.source = (self._source or open_source(o.driving, o.fps, paced=o.realtime)).open()
        self.fps = float(o.fps or self.source.fps)
        h, w = self.portrait.image.shape[:2]
        self.size = even_size(w, h)
        self.backend = open_backend(o.backend, self.cfg, o.weights)
        self.deadline = Deadline(self.stall_timeout_s[0 if o.realtime else 1]).open()
        self.landmarks = LandmarkStage().open()
        self.sink = self._sink or make_sink(o.output, self.size[0], self.size[1], self.fps)
        self.sink.open()
        if o.watermark:
            from .provenance.keys import load_or_create_key
            from .provenance.watermark import Watermarker

            key = load_or_create_key() if o.provenance == "attributed" else None
            self.watermarker = Watermarker(key, mode=o.provenance).open()
            if o.detector and o.realtime:
                from .provenance.detector import DetectorThread

                self.detector = DetectorThread(key).open()
        self.finisher = Finisher(self.size, self.watermarker.embed if self.watermarker is not None else None,
                                 self.detector.badge_text if self.detector is not None else None).open()
        self._use_portrait(self.portrait)

    def _use_portrait(self, portrait: Portrait) -> None:
        self.portrait = portrait
        self.backend.set_source(portrait.crop, portrait.motion.kp[None], portrait.motion.jac[None])
        self.compositor = Compositor(portrait).open()
        calibrate = self.options.calibrate or ("steady" if self.options.realtime else "first")
        self.motion = MotionTransfer(portrait.motion, calibrate=calibrate)

    def next_portrait(self) -> None:
        self._pi = (self._pi + 1) % len(self.portraits)
        self._use_portrait(prepare_portrait(self.portraits[self._pi], self.cfg.image_size))

    def recalibrate(self) -> None:
        self.motion.recalibrate()

    def close(self, ok: bool = True) -> None:
        if not self._opened:
            return
        self._opened = False
        for stage in (self.detector, self.watermarker, self.finisher, self.landmarks, self.deadline, self.backend):
            if stage is not None:
                stage.close()
        if self.sink is not None:
            self.sink.close(ok=ok)
        if self.source is not None:
            self.source.close()

    def __enter__(self) -> "Pipeline":
        return self.open()

    def __exit__(self, exc_type, *exc: object) -> None:
        # Ctrl-C is a request to stop: the output file is finalised so that it plays
        self.close(ok=exc_type is None or issubclass(exc_type, KeyboardInterrupt))

    def stop(self) -> None:
        self._stop.set()

    # --- per frame ----------------------------------------------------------------------------------
    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def slate(self, key: str) -> np.ndarray:
        """A badged, labelled slate (see ``finish.SLATES``)."""
        return self.finisher.slate(key)

    def process(self, frame: Frame, stages: list[int]) -> tuple[np.ndarray, str]:
        """One driving frame -> (output image, kind). Never returns the driving frame's pixels."""
        clock = time.perf_counter_ns
        t0 = clock()
        try:
            lm = self.landmarks.detect(frame.image, frame.t_capture_ns)
        except Exception:  # noqa: BLE001 - a landmarker failure is treated as "no face"
            self._count("landmarks")
            lm = None
        t1 = clock()
        motion = self.motion.update(lm, frame.t_capture_ns / 1e9)
        t2 = clock()
        kind = "generated" if lm is not None else "held"
        try:
            image, mask = self.deadline.call(self.backend.generate, motion.kp[None], motion.jac[None])
            if not np.isfinite(float(mask[0, 0, ::8, ::8].sum()) + float(image[0, :, ::8, ::8].sum())):
                raise FloatingPointError("generator produced NaN/inf")
            t3 = clock()
            out = self.compositor.paste(image, mask)
        except Exception as exc:  # noqa: BLE001 - fail closed: a slate, never the camera frame
            stalled = isinstance(exc, Stalled)
            self._count("generator_stall" if stalled else "generator")
            log.warning("generator failed: %s", exc)
            t3 = clock()
            out, kind = self.slate("generator_stall" if stalled else "generator_error"), "slate"
        t4 = clock()
        if out.shape[1] != self.size[0] or out.shape[0] != self.size[1]:  # a next portrait of another size
            out = cv2.resize(out, self.size, interpolation=cv2.INTER_AREA)
        stages[_S["landmarks"]], stages[_S["motion"]] = t1 - t0, t2 - t1
        stages[_S["generator"]], stages[_S["compose"]] = t3 - t2, t4 - t3
        return out, kind

    def finish(self, out: np.ndarray, kind: str, counter: int, stages: list[int]) -> tuple[np.ndarray, str]:
        """Mark and badge (last). Any failure -> the labelled slate."""
        out, kind2, stages[_S["mark"]], stages[_S["badge"]] = self.finisher.finish(out, kind, counter)
        if kind2 == "slate" and kind != "slate":
            self._count("mark_badge")
        return out, kind2

    def emit(self, frame: Frame, out: np.ndarray, kind: str, counter: int, stages: list[int]) -> None:
        t0 = time.perf_counter_ns()
        if self.options.stamp:
            from .stamp import read_counter, stamp_counter

            value = read_counter(frame.image)
            if value is not None:
                stamp_counter(out, value)
        self.sink.write(out)
        if self.detector is not None and kind != "slate":
            self.detector.submit(out)
        t1 = time.perf_counter_ns()
        stages[_S["sink"]] = t1 - t0
        self.recorder.add(FrameRecord(counter, frame.index, frame.t_capture_ns, t1, tuple(stages), kind))
        if self.on_output is not None:
            self.on_output(OutputFrame(out, counter, frame.index, frame.t_capture_ns, kind))
        key = self.sink.poll_key()
        if key == "quit":
            self.stop()
        elif key == "recalibrate":
            self.recalibrate()
        elif key == "next":
            self.next_portrait()

    # --- loops ----------------------------------------------------------------------------------------
    def run(self) -> dict:
        if not self._opened:
            self.open()
        t_start = time.perf_counter()
        if self.options.realtime:
            self._run_live()
        else:
            self._run_offline()
        summary = self.recorder.summary(wall_s=time.perf_counter() - t_start)
        summary["errors"] = dict(self.errors)
        summary["notes"] = list(self.notes)
        return summary

    def _step(self, frame: Frame, counter: int, wait_ns: int) -> None:
        stages = [0] * len(STAGES)
        stages[_S["capture_wait"]] = wait_ns
        out, kind = self.process(frame, stages)
        out, kind = self.finish(out, kind, counter, stages)
        self.emit(frame, out, kind, counter, stages)

    def _run_offline(self) -> None:
        """Every driving frame, in order, no drops: output frame i answers driving frame i."""
        counter = 0
        step = int(1e9 / self.fps)
        t_base = time.perf_counter_ns()
        while not self._stop.is_set() and (self.options.max_frames is None or counter < self.options.max_frames):
            image = self.source.read()
            if image is None:
                break
            t = time.perf_counter_ns()
            if self.options.stamp:
                from .stamp import stamp_counter

                stamp_counter(image, counter)
            # timestamps for the landmarker follow the video's own clock
            frame = Frame(image, max(t, t_base + counter * step), counter)
            self._step(frame, counter, 0)
            counter += 1
        if counter == 0:
            from .errors import InputError

            raise InputError(f"driving video {self.options.driving} has no frames", "use another video")

    def _run_live(self) -> None:
        mailbox: Mailbox[Frame] = Mailbox()
        capture = CaptureThread(self.source, mailbox, stamp=self.options.stamp).start()
        counter = dropped = 0
        last: Frame | None = None
        try:
            while not self._stop.is_set() and (self.options.max_frames is None or counter < self.options.max_frames):
                frame = mailbox.get(timeout=0.5)
                if mailbox.dropped != dropped:  # drops are placed where they happened
                    self.recorder.count_drop("capture", mailbox.dropped - dropped)
                    dropped = mailbox.dropped
                if frame is None:
                    if mailbox.closed and capture.ended.is_set():
                        break
                    if capture.error:  # camera trouble: a labelled slate meanwhile
                        stages = [0] * len(STAGES)
                        slate = self.slate("camera")
                        self.emit(last or Frame(slate, time.perf_counter_ns(), -1), slate, "slate", counter, stages)
                        counter += 1
                    continue
                last = frame
                self._step(frame, counter, time.perf_counter_ns() - frame.t_capture_ns)
                counter += 1
        finally:
            capture.stop()
            if mailbox.dropped != dropped:
                self.recorder.count_drop("capture", mailbox.dropped - dropped)
