"""The last stage before the sink: mark, then badge. Fail-closed: if either fails, the frame is
replaced by a labelled slate, which is rendered (badged) when the stage opens, so that a broken mark or
badge can never keep a slate from going out or let an unlabelled frame through."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from .badge import Badge, make_slate

log = logging.getLogger("mimicam")

SLATES = {
    "generator_error": "generator error - frame withheld",
    "generator_stall": "generator stalled - frame withheld",
    "provenance_error": "provenance error - frame withheld",
    "camera": "camera unavailable - reconnecting",
}
BADGE_MARK_OFF = "SYNTHETIC - mark off"


class Finisher:
    """``finish(image, kind, counter)`` marks and badges ``image`` in place, or returns a slate.

    ``mark_on`` (default True) can be switched off for a demonstration (presenter mode's "can you spot
    it"): frames are then not marked, and the badge says so (``BADGE_MARK_OFF``); every frame is still
    badged."""

    def __init__(self, size: tuple[int, int], embed: Callable[[np.ndarray, int], None] | None = None,
                 badge_text: Callable[[], str] | None = None, badge: Badge | None = None) -> None:
        self.size, self.embed, self.badge_text = size, embed, badge_text
        self.badge = badge or Badge()
        self.failures = 0
        self.mark_on = True
        self._slates: dict[str, np.ndarray] = {}

    def open(self) -> "Finisher":
        w, h = self.size
        self._slates = {key: make_slate(w, h, msg, Badge()) for key, msg in SLATES.items()}
        return self

    def close(self) -> None:
        self._slates = {}

    def __enter__(self) -> "Finisher":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def slate(self, key: str) -> np.ndarray:
        """A fresh copy of a pre-rendered, badged slate (sinks and stamps may write into it)."""
        return self._slates[key].copy()

    def text(self) -> str:
        """The badge text a frame finished now gets."""
        if not self.mark_on:
            return BADGE_MARK_OFF
        return self.badge_text() if self.badge_text is not None else "SYNTHETIC"

    def finish(self, image: np.ndarray, kind: str, counter: int) -> tuple[np.ndarray, str, int, int]:
        """-> (frame to send, kind, mark ns, badge ns). A slate passes through unmarked (it is badged)."""
        t0 = time.perf_counter_ns()
        if kind == "slate":
            return image, kind, 0, 0
        try:
            if self.embed is not None and self.mark_on:
                self.embed(image, counter)
            t1 = time.perf_counter_ns()
            self.badge.draw(image, self.text())
        except Exception as exc:  # noqa: BLE001 - fail closed: never an unmarked or unlabelled frame
            self.failures += 1
            log.warning("marking/badging failed: %s", exc)
            t1 = time.perf_counter_ns()
            return self.slate("provenance_error"), "slate", t1 - t0, 0
        return image, kind, t1 - t0, time.perf_counter_ns() - t1
