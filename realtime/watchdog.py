"""A deadline for a call that may stall (the generator backend): the live loop never waits forever.

``Deadline.call(fn, *args)`` runs ``fn`` on one long-lived worker thread and waits at most
``timeout_s`` for it. On time-out it raises ``Stalled``; the stuck call is left to finish on its own
and, until it does, every further call raises ``Stalled`` at once (nothing queues up). The caller
therefore keeps its own pace: it sends a labelled slate per frame, still sees Ctrl-C and ``stop()``,
and recovers by itself when the backend comes back. The worker is a daemon thread, so a backend that
never returns cannot keep the process alive at exit.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Stalled(RuntimeError):
    """The guarded call did not return within its deadline (or an earlier one still has not)."""


class Deadline:
    """Stage: ``open()`` starts the worker, ``call()`` runs one job with a deadline, ``close()`` ends it."""

    def __init__(self, timeout_s: float, name: str = "mimicam-generator") -> None:
        if not timeout_s > 0:
            raise ValueError(f"Deadline timeout_s: expected > 0 seconds, got {timeout_s}")
        self.timeout_s, self.name = timeout_s, name
        self.stalls = 0
        self._cond = threading.Condition()
        self._job: tuple[Callable[..., Any], tuple] | None = None
        self._seq = self._done_seq = 0
        self._result: Any = None
        self._error: BaseException | None = None
        self._started_at = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None

    def open(self) -> "Deadline":
        if self._thread is None:
            self._closed = False
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """End the worker; a call that is stuck is abandoned (the daemon thread dies with the process)."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._closed = True
            busy = self._done_seq != self._seq
            self._cond.notify_all()
        if not busy:
            thread.join(timeout=1.0)
        self._thread = None

    def __enter__(self) -> "Deadline":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def busy(self) -> bool:
        return self._done_seq != self._seq

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the worker; its result or exception, or ``Stalled`` after ``timeout_s``."""
        with self._cond:
            if self._thread is None or self._closed:
                raise RuntimeError("Deadline is not open: call open() first")
            if self._done_seq != self._seq:
                raise Stalled(f"still stalled ({time.monotonic() - self._started_at:.1f} s without returning)")
            self._seq += 1
            seq, self._job, self._started_at = self._seq, (fn, args), time.monotonic()
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._done_seq == seq, self.timeout_s):
                self.stalls += 1
                raise Stalled(f"no answer within {self.timeout_s:g} s")
            result, error, self._result, self._error = self._result, self._error, None, None
        if error is not None:
            raise error
        return result

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._job is None:
                    return
                (fn, args), self._job, seq = self._job, None, self._seq
            result, error = None, None
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
                error = exc
            with self._cond:
                self._result, self._error, self._done_seq = result, error, seq
                self._cond.notify_all()
