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
