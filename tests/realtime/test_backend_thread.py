"""One thread owns the generator backend: every call runs there, and close never frees it under a call."""
import threading
import time

from mimicam.realtime.watchdog import Deadline, Stalled

from reliability_fakes import wait_until


class _Owned:
    """Records the thread of every call; ``generate`` can be held until released."""

    def __init__(self) -> None:
        self.threads: list[tuple[str, int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.running = threading.Event()
        self.freed_while_running = False
        self.closed = False

    def _note(self, what: str) -> None:
        self.threads.append((what, threading.get_ident()))

    def open(self):
        self._note("open")
        return self

    def set_source(self, *_):
        self._note("set_source")

    def generate(self, *_):
        self._note("generate")
        self.running.set()
        self.hold.wait(10)
        self.running.clear()
        return "frame"

    def close(self):
        self._note("close")
        self.freed_while_running = self.running.is_set()
        self.closed = True


def test_every_backend_call_runs_on_the_owner_thread():
    b = _Owned()
    d = Deadline(2.0).open()
    d.call(b.open)
    d.call(b.set_source, 1)
    assert d.call(b.generate) == "frame"
    d.close(finalize=b.close)
    assert wait_until(lambda: b.closed, 2)
    names = [w for w, _ in b.threads]
    assert names == ["open", "set_source", "generate", "close"]
    assert len({t for _, t in b.threads}) == 1 and b.threads[0][1] != threading.get_ident()


def test_close_waits_for_a_slow_call_then_closes_after_it():
    b = _Owned()
    b.hold.clear()
    d = Deadline(0.1, close_wait_s=5.0).open()
    try:
        d.call(b.generate)
    except Stalled:
        pass
    assert b.running.is_set()
    threading.Timer(0.3, b.hold.set).start()  # the slow call returns while close() waits
    t0 = time.monotonic()
    d.close(finalize=b.close)
    assert wait_until(lambda: b.closed, 2) and not b.freed_while_running and not d.leaked
    assert 0.2 < time.monotonic() - t0 < 4.0


def test_close_during_a_stall_leaks_rather_than_frees():
    b = _Owned()
    b.hold.clear()
    d = Deadline(0.1, close_wait_s=0.3).open()
    try:
        d.call(b.generate)
    except Stalled:
        pass
    d.close(finalize=b.close)
    assert d.leaked and not b.closed  # left open: never freed under the running call
    b.hold.set()
    time.sleep(0.2)
    assert not b.closed and not b.freed_while_running


def test_open_may_take_longer_than_a_frame():
    d = Deadline(0.05).open()
    assert d.call(time.sleep, 0.2, timeout_s=5.0) is None
    d.close()


# --- through the pipeline ------------------------------------------------------------------------

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mimicam.realtime.errors import NoFaceError  # noqa: E402
from mimicam.realtime.pipeline import Pipeline, PipelineOptions  # noqa: E402

from reliability_fakes import (FakeBackend, RecordingSink, ScriptedCamera, clip_frames,  # noqa: E402,F401
                               fake_backend, small_portrait_path)


class _SlowBackend(FakeBackend):
    """Each generate takes ``delay`` s; records the thread of every call and any overlap between calls."""

    def __init__(self, size: int, delay: float = 0.03, **kw) -> None:
        super().__init__(size, **kw)
        self.delay, self.sources, self.overlaps = delay, 0, 0
        self.threads: set[int] = set()
        self._busy = threading.Lock()
        self.closed_while_busy = False

    def _enter(self):
        self.threads.add(threading.get_ident())
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            return False
        return True

    def set_source(self, source, kp, jac) -> None:
        mine = self._enter()
        self.sources += 1
        self.last_source = source.copy()
        if mine:
            self._busy.release()

    def generate(self, kp, jac):
        mine = self._enter()
        try:
            time.sleep(self.delay)
            return super().generate(kp, jac)
        finally:
            if mine:
                self._busy.release()

    def close(self) -> None:
        self.closed_while_busy = self._busy.locked()  # a generate (possibly stalled) is running
        super().close()


def _second_portrait(tmp_path, first) -> str:
    img = cv2.imread(str(first))
    path = tmp_path / "second.png"
    cv2.imwrite(str(path), cv2.flip(img, 1))
    return str(path)


def test_switching_portraits_during_generation_stays_on_the_owner_thread(tmp_path, small_portrait_path,
                                                                          clip_frames, fake_backend):
    backend = fake_backend["backend"] = _SlowBackend(128, delay=0.03)
    second = _second_portrait(tmp_path, small_portrait_path)
    opts = PipelineOptions(portrait=small_portrait_path, driving="0", realtime=True, watermark=False,
                           detector=False, more_portraits=(second,), max_frames=60)
    pipe = Pipeline(opts, sink=RecordingSink(), source=ScriptedCamera(clip_frames, fps=30))
    stop = threading.Event()

    def press_n():  # the hotkey, from another thread, while frames are being generated
        while not stop.is_set():
            pipe.next_portrait()
            time.sleep(0.05)

    with pipe:
        presser = threading.Thread(target=press_n)
        presser.start()
        try:
            pipe.run()
        finally:
            stop.set()
            presser.join(2)
    assert backend.overlaps == 0
    assert backend.sources >= 5  # the switches happened, each on the owner thread
    assert len(backend.threads) == 1 and threading.get_ident() not in backend.threads
    assert backend.closed and not backend.closed_while_busy


def test_close_during_a_stall_never_frees_the_backend_under_the_call(small_portrait_path, clip_frames,
                                                                      fake_backend):
    backend = fake_backend["backend"] = _SlowBackend(128, delay=0.0, schedule=lambda i: "stall" if i >= 2 else None)
    opts = PipelineOptions(portrait=small_portrait_path, driving="0", realtime=True, watermark=False,
                           detector=False, max_frames=15)
    pipe = Pipeline(opts, sink=RecordingSink(), source=ScriptedCamera(clip_frames, fps=30))
    pipe.stall_timeout_s, pipe.close_wait_s = (0.2, 0.2), 0.3
    try:
        with pipe:
            summary = pipe.run()
        assert backend.entered.is_set() and not backend.closed  # left open, a logged note
        assert summary["health"]["generator_stalls"] >= 1
    finally:
        backend.release.set()
    time.sleep(0.2)
    assert not backend.closed  # still never closed after the call came back: it was deliberately left


def test_every_portrait_is_checked_at_open(tmp_path, small_portrait_path, clip_frames, fake_backend):
    faceless = tmp_path / "wall.png"
    cv2.imwrite(str(faceless), np.full((300, 300, 3), 128, np.uint8))
    camera = ScriptedCamera(clip_frames)
    opts = PipelineOptions(portrait=small_portrait_path, driving="0", realtime=True, watermark=False,
                           detector=False, more_portraits=(str(faceless),))
    with pytest.raises(NoFaceError, match="wall.png"):
        Pipeline(opts, sink=RecordingSink(), source=camera).open()
    assert camera.opens == []  # said before the camera was touched
