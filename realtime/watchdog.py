"""The one thread that owns the generator backend, with a deadline: the live loop never waits forever.

Every backend call -- open, set_source, generate, close -- runs on this thread, so a backend never sees
two threads (ONNX Runtime's bound input buffers, TensorRT's context and stream) and is never freed
while one of its calls is still running.

``Deadline.call(fn, *args)`` runs ``fn`` on one long-lived worker thread and waits at most
``timeout_s`` for it. On time-out it raises ``Stalled``; the stuck call is left to finish on its own
and, until it does, every further call raises ``Stalled`` at once (nothing queues up). The caller
therefore keeps its own pace: it sends a labelled slate per frame, still sees Ctrl-C and ``stop()``,
and recovers by itself when the backend comes back. ``close(finalize)`` runs ``finalize`` (the
backend's own close) on the worker after the call in flight; if that call is still stuck after
``close_wait_s``, the backend is deliberately left unclosed (a logged note), never freed under it.
The worker is a daemon thread, so a backend that never returns cannot keep the process alive at exit.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


log = logging.getLogger("mimicam")


class Stalled(RuntimeError):
    """The guarded call did not return within its deadline (or an earlier one still has not)."""


class Deadline:
    """Stage: ``open()`` starts the worker, ``call()`` runs one job with a deadline, ``close()`` ends it."""

    def __init__(self, timeout_s: float, name: str = "mimicam-generator", close_wait_s: float = 5.0) -> None:
        if not timeout_s > 0:
            raise ValueError(f"Deadline timeout_s: expected > 0 seconds, got {timeout_s}")
        self.timeout_s, self.name, self.close_wait_s = timeout_s, name, close_wait_s
        self.stalls = 0
        self.leaked = False  # close() found a call still stuck and left its finalizer unrun
        self._cond = threading.Condition()
        self._job: tuple[Callable[..., Any], tuple] | None = None
        self._seq = self._done_seq = 0
        self._result: Any = None
        self._error: BaseException | None = None
        self._started_at = 0.0
        self._closed = False
        self._finalize: Callable[[], Any] | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> "Deadline":
        if self._thread is None:
            self._closed = False
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()
        return self

    def close(self, finalize: Callable[[], Any] | None = None) -> None:
        """End the worker. ``finalize`` (the backend's close) runs on the worker once the call in flight
        has returned; a call still stuck after ``close_wait_s`` is abandoned with ``finalize`` unrun (the
        daemon thread dies with the process), so nothing is freed under a running call."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            if finalize is not None and not self._cond.wait_for(lambda: self._done_seq == self._seq,
                                                                self.close_wait_s):
                self.leaked = True
                log.warning("the generator backend is still busy after %.0f s: it is left open rather than "
                            "freed under the running call", self.close_wait_s)
                finalize = None
            self._closed = True
            self._finalize = finalize
            busy = self._done_seq != self._seq
            self._cond.notify_all()
        if not busy:
            thread.join(timeout=max(self.close_wait_s, 1.0))
        self._thread = None

    def __enter__(self) -> "Deadline":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def busy(self) -> bool:
        return self._done_seq != self._seq

    def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> Any:
        """``fn(*args)`` on the worker; its result or exception, or ``Stalled`` after ``timeout_s`` (the
        stage's own unless given: opening a backend may export or build an engine first)."""
        with self._cond:
            if self._thread is None or self._closed:
                raise RuntimeError("Deadline is not open: call open() first")
            if self._done_seq != self._seq:
                raise Stalled(f"still stalled ({time.monotonic() - self._started_at:.1f} s without returning)")
            self._seq += 1
            seq, self._job, self._started_at = self._seq, (fn, args), time.monotonic()
            self._cond.notify_all()
            limit = self.timeout_s if timeout_s is None else timeout_s
            if not self._cond.wait_for(lambda: self._done_seq == seq, limit):
                self.stalls += 1
                raise Stalled(f"no answer within {limit:g} s")
            result, error, self._result, self._error = self._result, self._error, None, None
        if error is not None:
            raise error
        return result

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._job is None:
                    finalize, self._finalize = self._finalize, None
                    break
                (fn, args), self._job, seq = self._job, None, self._seq
            result, error = None, None
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
                error = exc
            with self._cond:
                self._result, self._error, self._done_seq = result, error, seq
                self._cond.notify_all()
        if finalize is not None:
            try:
                finalize()
            except Exception as exc:  # noqa: BLE001 - closing is best effort; the process goes on
                log.warning("closing the generator backend failed: %s", exc)
