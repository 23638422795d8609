"""One-slot mailbox: the newest frame wins (as aiortc's MediaRelay and WebRTC's frame dropping).

``put`` never blocks: it replaces an unread frame and counts the drop. ``get`` blocks (no spinning)
until a frame newer than the last one read arrives, the timeout passes, or the mailbox is closed."""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._fresh = False
        self._closed = False
        self.dropped = 0
        self.delivered = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._fresh:
                self.dropped += 1
            self._item, self._fresh = item, True
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The newest unread item, or None on timeout / when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._fresh or self._closed, timeout):
                return None
            if not self._fresh:
                return None
            self._fresh = False
            self.delivered += 1
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> bool:
        """An unread item is waiting."""
        return self._fresh
