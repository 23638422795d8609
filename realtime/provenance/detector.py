"""The parallel detector: verifies the mark on the newest output frame, beside the pipeline.

``submit`` copies the frame into a preallocated slot and returns (latest frame wins, drops counted);
a worker thread folds it into a sliding window and publishes a ``Verdict``. Its verdict drives the
badge text; it never claims a frame is real.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from .verifier import STATUSES, MarkVerifier

log = logging.getLogger(__name__)

BADGE = "SYNTHETIC"
BADGE_VERIFIED = "SYNTHETIC - verified"


@dataclass(frozen=True)
class Verdict:
    marked: bool
    status: str
    p_value: float
    session_id: int | None
    classifier_score: float | None
    verdicts: int

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Verdict.status: expected one of {STATUSES}, got {self.status!r}")


NO_VERDICT = Verdict(False, "absent", 1.0, None, None, 0)


class DetectorThread:
    """Stage. ``scales=(1.0,)``: it reads the pipeline's own output, so only mirror and shift are searched.
    ``key``: the install's key (attributed mode: "verified" means a valid, content-bound mark), or None
    (anonymous mode: "verified" means the public anonymous mark is present and intact).
    ``classifier``: when the shipped weights are present and verify, each verdict carries the advisory CNN
    score (the face is relocated every ``relocate_every`` verdicts); otherwise ``classifier_score`` is None.
    The score never changes the badge text: only the mark does."""

    def __init__(self, key: bytes | None, window: int = 30, classifier: bool = True,
                 scales: tuple[float, ...] = (1.0,), verified_ttl_s: float = 3.0, relocate_every: int = 15,
                 rate_hz: float = 12.0, classify_every: int = 6) -> None:
        self._verifier = MarkVerifier(key, window=window, scales=scales)
        self._accept = "valid" if key is not None else "anonymous"
        self.classifier = _load_classifier() if classifier else None
        self.relocate_every = relocate_every
        # it shares the CPU with the live pipeline: at most rate_hz verdicts/s, the advisory CNN on every
        # classify_every-th verdict (its last score is carried in between)
        self.min_period_s = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self.classify_every = max(1, classify_every)
        self._last_score: float | None = None
        self._face: tuple | None = None
        self.verified_ttl_s = verified_ttl_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._slot: np.ndarray | None = None
        self._spare: np.ndarray | None = None
        self._slot_index = -1
        self._pending = False
        self._submitted = 0
        self.drops = 0
        self._verdict = NO_VERDICT
        self._verified_at: float | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def open(self) -> "DetectorThread":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="mimicam-detector", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.classifier is not None:
            self.classifier.close()     # its face locator; reopened lazily

    def __enter__(self) -> "DetectorThread":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, image: np.ndarray) -> None:
        """Non-blocking: copy ``image`` (HxWx3 uint8) into the slot; an unread previous frame is dropped."""
        with self._lock:
            if self._slot is None or self._slot.shape != image.shape:
                self._slot = np.empty_like(image)     # allocated once per frame size
            np.copyto(self._slot, image)
            if self._pending:
                self.drops += 1
            self._pending = True
            self._slot_index = self._submitted
            self._submitted += 1
        self._wake.set()

    @property
    def verdict(self) -> Verdict:
        return self._verdict

    def badge_text(self) -> str:
        at = self._verified_at
        if at is not None and time.monotonic() - at <= self.verified_ttl_s:
            return BADGE_VERIFIED
        return BADGE

    def _take(self) -> tuple[np.ndarray, int] | None:
        with self._lock:    # swap buffers under the lock; convert outside it
            if not self._pending or self._slot is None:
                return None
            self._pending = False
            if self._spare is None or self._spare.shape != self._slot.shape:
                self._spare = np.empty_like(self._slot)
            self._slot, self._spare = self._spare, self._slot
            index = self._slot_index
        return cv2.cvtColor(self._spare, cv2.COLOR_BGR2GRAY), index

    def _run(self) -> None:
        _lower_priority()
        last = 0.0
        while not self._stop.is_set():
            rest = last + self.min_period_s - time.monotonic()
            if rest > 0 and self._stop.wait(rest):
                break
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            taken = self._take()
            if taken is None:
                continue
            try:
                self._verifier.feed(taken[0])
                r = self._verifier.result()
            except Exception as exc:    # never take the pipeline down; the badge stays "SYNTHETIC"
                self.error = exc
                continue
            last = time.monotonic()
            n = self._verdict.verdicts + 1
            self._verdict = Verdict(r.marked, r.status, r.p_value, r.session_id, self._score(n), n)
            if r.marked and r.status == self._accept:
                self._verified_at = time.monotonic()

    def _score(self, n: int) -> float | None:
        """Advisory score of the frame just taken (``self._spare`` is not written until the next take)."""
        if self.classifier is None or self._spare is None:
            return None
        if n % self.classify_every != 1 and self._last_score is not None:
            return self._last_score
        try:
            if self._face is None or n % self.relocate_every == 0:
                self._face = self.classifier.locate(self._spare)
            self._last_score = self.classifier.score(self._spare, self._face)
            return self._last_score
        except Exception as exc:  # noqa: BLE001 - advisory only: never stops verification
            self.error = exc
            return None


def _lower_priority() -> None:
    """Run this thread at the lowest CPU priority (Linux: per-thread nice 19), so that verification only
    ever uses CPU time the live pipeline leaves idle: it adds nothing to the per-frame critical path."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not permitted: the rate limit still applies
        pass


def _load_classifier():
    from .classifier import load_default

    try:
        return load_default()
    except Exception as exc:  # noqa: BLE001 - e.g. weights that fail their SHA-256: no score, and say so
        log.warning("provenance classifier unavailable: %s", exc)
        return None
