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

import numpy as np

from ..engines.backend import backend_class, open_backend
from ..engines.config import get_config
from .canvas import DEFAULT_SIZE, check_size
from .capture import CaptureSource, CaptureThread, open_source
from .compose import Compositor
from .finish import Finisher
from .errors import InputError
from .landmarks import LandmarkStage
from .mailbox import Mailbox
from .metrics import STAGES, FrameRecord, MetricsRecorder
from .motion import MotionTransfer
from .notice import NoFaceNotice
from .portrait import Portrait, prepare_portrait
from .sinks import Sink, make_sink
from .types import Frame, Landmarks, OutputFrame
from .watchdog import Deadline, Stalled

log = logging.getLogger("mimicam")
_S = {name: i for i, name in enumerate(STAGES)}


@dataclass(frozen=True)
class Sensed:
    """A driving frame with its landmarks (None: no face) and when finding them began and ended (perf ns)."""

    frame: Frame
    lm: Landmarks | None
    t0_ns: int
    t1_ns: int


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
    calibrate: str = "neutral"  # | "first" | "steady": see realtime.motion (the CLIs pass --calibrate)
    watermark: bool = True
    detector: bool = True
    more_portraits: tuple[Path | str, ...] = field(default_factory=tuple)  # the "next portrait" hotkey cycles
    # output (width, height), even; None: 1280x720 live, the portrait's own aspect (capped) offline
    size: tuple[int, int] | None = None
    provenance: str = "attributed"  # "anonymous": the public mark only, no key, nothing attributable
    # live: the next frame's landmarks are found on their own thread while this one is generated and finished
    # (2 cores, lp_d9 replayed: 60 fps in -> 39-47 fps out instead of 28-30; at 30 fps capture-to-sink p95
    # 0.71-0.86x; docs/bench/issue14/overlap/). False: one thread does every stage of a frame in turn
    overlap: bool = True

    def __post_init__(self) -> None:
        if self.size is not None:
            check_size(self.size)
        if self.provenance not in ("attributed", "anonymous"):
            raise InputError(f"provenance: expected 'attributed' or 'anonymous', got {self.provenance!r}")

    def output_size(self) -> tuple[int, int] | None:
        """The canvas size asked for (None: the portrait's own, decided when it is loaded)."""
        return self.size or (DEFAULT_SIZE if self.realtime else None)


class Pipeline:
    # a generator call that takes longer is abandoned: slates are sent until it returns (live / offline)
    stall_timeout_s: tuple[float, float] = (2.0, 30.0)
    # opening the backend may export the ONNX graphs or build TensorRT engines first
    open_timeout_s: float = 3600.0
    # at close, how long to wait for a generator call still in flight before leaving the backend open
    close_wait_s: float = 2.0

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
        self._next = threading.Event()
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
        self.watermarker = self.detector = self.finisher = self.notice = None
        backend_class(o.backend)  # first: "no GPU for TensorRT" is said before any camera or file is opened
        # every portrait is checked now (a faceless "next portrait" must not end the session later) and
        # fitted onto the output canvas once: every later stage works at canvas size
        first = prepare_portrait(o.portrait, self.cfg.image_size, size=o.output_size())
        self.size = (first.image.shape[1], first.image.shape[0])
        self.portraits = [first, *(prepare_portrait(p, self.cfg.image_size, size=self.size) for p in o.more_portraits)]
        self._pi = 0
        self.portrait = self.portraits[0]
        self.notes += [f"{p.name}: {p.note}" for p in self.portraits if p.note]
        self.source = (self._source or open_source(o.driving, o.fps, paced=o.realtime)).open()
        self.fps = float(o.fps or self.source.fps)
        # one thread owns the backend: open, set_source, generate and close all run on it
        self.deadline = Deadline(self.stall_timeout_s[0 if o.realtime else 1], close_wait_s=self.close_wait_s).open()
        self.backend = self.deadline.call(open_backend, o.backend, self.cfg, o.weights, timeout_s=self.open_timeout_s)
        self.landmarks = LandmarkStage().open()
        self.sink = self._sink or make_sink(o.output, self.size[0], self.size[1], self.fps, live=o.realtime)
        self.sink.open()
        if o.watermark:
            from .provenance.keys import load_or_create_key
            from .provenance.watermark import Watermarker

            key = load_or_create_key() if o.provenance == "attributed" else None
            self.watermarker = Watermarker(key, mode=o.provenance).open()
            if o.detector and o.realtime:
                from .provenance.detector import DetectorThread

                self.detector = DetectorThread(key).open()
        self.notice = NoFaceNotice() if o.realtime else None  # live: "no face in the camera" after 3 s
        self.finisher = Finisher(self.size, self.watermarker.embed if self.watermarker is not None else None,
                                 self.detector.badge_text if self.detector is not None else None).open()
        self._use_portrait(self.portrait, self.open_timeout_s)

    def _use_portrait(self, portrait: Portrait, timeout_s: float | None = None) -> None:
        self.deadline.call(self.backend.set_source, portrait.crop, portrait.motion.kp[None], portrait.motion.jac[None],
                           timeout_s=timeout_s)
        self.portrait = portrait
        # closed form: the compositor samples the full-resolution portrait with the flow; learned weights keep
        # their residual in the generated crop, which is pasted
        flow_size = self.cfg.motion_size if self.options.weights is None else None
        interpolation = "linear" if self.options.realtime else "cubic"  # see compose.INTERPOLATION
        self.compositor = Compositor(portrait, flow_size, interpolation).open()
        self.motion = MotionTransfer(portrait.motion, calibrate=self.options.calibrate)

    def next_portrait(self) -> None:
        """Ask for the next portrait (prepared and checked in ``open()``). Safe from any thread: the switch
        happens between two frames, on the loop, and the new portrait's encoding on the backend's thread."""
        self._next.set()

    def _switch_portrait(self) -> None:
        self._next.clear()
        i = (self._pi + 1) % len(self.portraits)
        try:
            self._use_portrait(self.portraits[i])
        except Stalled:
            log.warning("the generator is busy: the portrait is not switched (press n again)")
            return
        self._pi = i

    def recalibrate(self) -> None:
        self.motion.recalibrate()

    def close(self, ok: bool = True) -> None:
        if not self._opened:
            return
        self._opened = False
        for stage in (self.detector, self.watermarker, self.finisher, self.landmarks):
            if stage is not None:
                stage.close()
        if self.deadline is not None:  # the backend is closed on its own thread, never under a running call
            self.deadline.close(finalize=self.backend.close if self.backend is not None else None)
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

    def sense(self, frame: Frame) -> Sensed:
        """The frame's landmarks (None: no face, or the landmarker failed, which is counted), timed."""
        t0 = time.perf_counter_ns()
        try:
            lm = self.landmarks.detect(frame.image, frame.t_capture_ns)
        except Exception:  # noqa: BLE001 - a landmarker failure is treated as "no face"
            self._count("landmarks")
            lm = None
        return Sensed(frame, lm, t0, time.perf_counter_ns())

    def process(self, frame: Frame, stages: list[int], sensed: Sensed | None = None) -> tuple[np.ndarray, str]:
        """One driving frame -> (output image, kind). Never returns the driving frame's pixels. ``sensed``:
        its landmarks when they were found already (``overlap``), else they are found here."""
        clock = time.perf_counter_ns
        if sensed is None:
            sensed = self.sense(frame)
        lm, t0, t1 = sensed.lm, sensed.t0_ns, sensed.t1_ns
        t_motion = clock()
        motion = self.motion.update(lm, frame.t_capture_ns / 1e9)
        t2 = clock()
        kind = "generated" if lm is not None else "held"
        try:
            outputs = self.deadline.call(self.backend.generate, motion.kp[None], motion.jac[None])
            image, mask = outputs[0], outputs[1]
            if not np.isfinite(float(mask[0, 0, ::8, ::8].sum()) + float(image[0, :, ::8, ::8].sum())):
                raise FloatingPointError("generator produced NaN/inf")
            t3 = clock()
            out = self.compositor.paste(*outputs)
            if self.notice is not None:
                self.notice.apply(out, lm is not None, frame.t_capture_ns)
        except Exception as exc:  # noqa: BLE001 - fail closed: a slate, never the camera frame
            stalled = isinstance(exc, Stalled)
            self._count("generator_stall" if stalled else "generator")
            log.warning("generator failed: %s", exc)
            t3 = clock()
            out, kind = self.slate("generator_stall" if stalled else "generator_error"), "slate"
        t4 = clock()
        stages[_S["landmarks"]], stages[_S["motion"]] = t1 - t0, t2 - t_motion
        stages[_S["generator"]], stages[_S["compose"]] = t3 - t2, t4 - t3
        return out, kind

    def finish(self, out: np.ndarray, kind: str, counter: int, stages: list[int]) -> tuple[np.ndarray, str]:
        """Mark and badge (last). Any failure -> the labelled slate."""
        out, kind2, stages[_S["mark"]], stages[_S["badge"]] = self.finisher.finish(out, kind, counter)
        if kind2 == "slate" and kind != "slate":
            self._count("mark_badge")
        return out, kind2

    def emit(self, frame: Frame, out: np.ndarray, kind: str, counter: int, stages: list[int],
             t_start_ns: int | None = None) -> None:
        """Send, then record (``t_start_ns``: when this frame's processing began, offline; live, the
        capture time is where its latency starts)."""
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
        start = frame.t_capture_ns if t_start_ns is None else t_start_ns
        self.recorder.add(FrameRecord(counter, frame.index, start, t1, tuple(stages), kind))
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
        mode = "live" if self.options.realtime else "offline"
        summary = self.recorder.summary(wall_s=time.perf_counter() - t_start, mode=mode, media_fps=self.fps)
        summary["errors"] = dict(self.errors)
        summary["notes"] = list(self.notes)
        summary["health"] = self.health()
        return summary

    def health(self) -> dict:
        """What went wrong beside the frames: generator stalls, marking/badging failures, the detector."""
        det = self.detector
        return {"generator_stalls": self.deadline.stalls if self.deadline is not None else 0,
                "mark_badge_failures": self.finisher.failures if self.finisher is not None else 0,
                "detector_drops": det.drops if det is not None else 0,
                "detector_error": None if det is None or det.error is None else repr(det.error)}

    def _step(self, frame: Frame, counter: int, wait_ns: int, t_start_ns: int | None = None,
              sensed: Sensed | None = None) -> None:
        if self._next.is_set():
            self._switch_portrait()
        stages = [0] * len(STAGES)
        stages[_S["capture_wait"]] = wait_ns
        out, kind = self.process(frame, stages, sensed)
        out, kind = self.finish(out, kind, counter, stages)
        self.emit(frame, out, kind, counter, stages, t_start_ns)

    def _run_offline(self) -> None:
        """Every driving frame, in order, no drops: output frame i answers driving frame i."""
        counter = 0
        t_base = time.perf_counter_ns()
        while not self._stop.is_set() and (self.options.max_frames is None or counter < self.options.max_frames):
            t_read = time.perf_counter_ns()
            image = self.source.read()
            if image is None:
                break
            t = time.perf_counter_ns()
            if self.options.stamp:
                from .stamp import stamp_counter

                stamp_counter(image, counter)
            # landmarks and motion filtering follow the video's own clock, however fast this machine is:
            # the same inputs render the same frames. The record's start is the read (a processing
            # time, never a "latency" against a clock that runs ahead of the video's)
            frame = Frame(image, t_base + round(counter * 1e9 / self.fps), counter)
            self._step(frame, counter, t - t_read, t_start_ns=t_read)
            counter += 1
        if counter == 0:
            raise InputError(f"driving video {self.options.driving} has no frames", "use another video")

    def _run_live(self) -> None:
        mailbox: Mailbox[Frame] = Mailbox()
        capture = CaptureThread(self.source, mailbox, stamp=self.options.stamp).start()
        # overlap: a thread finds the next frame's landmarks while this one is generated and finished; the
        # loop then reads frames with their landmarks from a second one-slot mailbox (newest wins there too)
        sensing = _SensingThread(self, mailbox, capture).start() if self.options.overlap else None
        inbox = sensing.outbox if sensing is not None else mailbox
        boxes = (mailbox,) if sensing is None else (mailbox, sensing.outbox)  # where newer frames replace older

        def lost() -> int:
            return sum(b.dropped for b in boxes)

        counter = dropped = 0
        last: Frame | None = None
        try:
            while not self._stop.is_set() and (self.options.max_frames is None or counter < self.options.max_frames):
                item = inbox.get(timeout=0.5)
                n = lost()
                if n != dropped:  # drops are placed where they happened
                    self.recorder.count_drop("capture", n - dropped)
                    dropped = n
                if item is None:
                    if inbox.closed and capture.ended.is_set():
                        break
                    if capture.error:  # camera trouble: a labelled slate meanwhile
                        stages = [0] * len(STAGES)
                        slate = self.slate("camera")
                        self.emit(last or Frame(slate, time.perf_counter_ns(), -1), slate, "slate", counter, stages)
                        counter += 1
                    continue
                sensed = item if sensing is not None else None
                if sensed is not None and sensing.superseded(sensed):  # newest wins after a stall, too
                    self.recorder.count_drop("capture")
                    continue
                frame = item.frame if sensed is not None else item
                last = frame
                now = time.perf_counter_ns()
                # waiting: for the frame (and, overlapped, for its landmarks to be taken up after they were found)
                wait = now - frame.t_capture_ns if sensed is None else (
                    sensed.t0_ns - frame.t_capture_ns + now - sensed.t1_ns)
                self._step(frame, counter, wait, sensed=sensed)
                counter += 1
        finally:
            if sensing is not None:
                sensing.stop()
            capture.stop()
            n = lost()
            if n != dropped:
                self.recorder.count_drop("capture", n - dropped)


class _SensingThread:
    """Live, with ``overlap``: takes the newest captured frame, finds its landmarks (``Pipeline.sense``) and
    hands both to the pipeline loop through a one-slot mailbox. The only thread that calls the landmarker.
    Closes its mailbox when the capture has ended."""

    # a sensed frame older than this is passed over when a newer one is being sensed or waits to be: after a
    # stall the next frame shown is the newest, as without overlap (in steady state frames are younger)
    STALE_NS = 100_000_000

    def __init__(self, pipe: Pipeline, inbox: Mailbox[Frame], capture: CaptureThread) -> None:
        self.pipe, self.inbox, self.capture = pipe, inbox, capture
        self.outbox: Mailbox[Sensed] = Mailbox()
        self.working = False  # landmarks of a frame newer than the outbox's are being found
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mimicam-landmarks", daemon=True)

    def superseded(self, sensed: Sensed) -> bool:
        """The frame is stale and a newer one is on its way."""
        old = time.perf_counter_ns() - sensed.frame.t_capture_ns > self.STALE_NS
        return old and (self.working or self.inbox.pending)

    def start(self) -> "_SensingThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.inbox.get(timeout=0.2)
                if frame is None:
                    if self.inbox.closed and self.capture.ended.is_set():
                        break
                    continue
                self.working = True
                try:
                    self.outbox.put(self.pipe.sense(frame))
                finally:
                    self.working = False
        finally:
            self.outbox.close()
