"""Paste the generated face crop back into the full portrait through the generator's feathered mask.

Only the part of the crop box inside the portrait is touched; everything outside the mask keeps the
portrait's own full-resolution pixels, so there are no seams. Buffers are allocated in ``open()``; the
returned frame is reused on the next call.
"""
from __future__ import annotations

import cv2
import numpy as np

from .portrait import Portrait


class Compositor:
    def __init__(self, portrait: Portrait) -> None:
        self.portrait = portrait
        h, w = portrait.image.shape[:2]
        b = portrait.box
        self.side = max(int(round(b.side)), 1)
        bx0, by0 = int(round(b.x0)), int(round(b.y0))
        # image region covered by the box, and the matching region inside the resized crop
        self.ix0, self.iy0 = max(bx0, 0), max(by0, 0)
        self.ix1, self.iy1 = min(bx0 + self.side, w), min(by0 + self.side, h)
        self.cx0, self.cy0 = self.ix0 - bx0, self.iy0 - by0
        self._out: np.ndarray | None = None

    def open(self) -> "Compositor":
        self._out = self.portrait.image.copy()
        self._base = self.portrait.image[self.iy0:self.iy1, self.ix0:self.ix1].astype(np.float32)
        s = self.portrait.crop.shape[-1]
        self._hwc = np.empty((s, s, 3), np.float32)  # per-frame buffers, allocated once
        self._crop = np.empty((self.side, self.side, 3), np.float32)
        self._mask = np.empty((self.side, self.side), np.float32)
        self._blend = np.empty_like(self._base)
        return self

    def close(self) -> None:
        self._out = None

    def __enter__(self) -> "Compositor":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def neutral(self) -> np.ndarray:
        """The portrait itself (used before calibration)."""
        np.copyto(self._out, self.portrait.image)
        return self._out

    def paste(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image (1,3,S,S), mask (1,1,S,S) float32 in [0,1] -> full frame HxWx3 uint8 (reused)."""
        if self.ix1 <= self.ix0 or self.iy1 <= self.iy0:
            return self.neutral()
        np.copyto(self._hwc, image[0].transpose(1, 2, 0))
        cv2.resize(self._hwc, (self.side, self.side), dst=self._crop, interpolation=cv2.INTER_LINEAR)
        cv2.resize(mask[0, 0], (self.side, self.side), dst=self._mask, interpolation=cv2.INTER_LINEAR)
        ys, xs = slice(self.cy0, self.cy0 + self.iy1 - self.iy0), slice(self.cx0, self.cx0 + self.ix1 - self.ix0)
        crop, m, out = self._crop[ys, xs], self._mask[ys, xs, None], self._blend
        np.multiply(crop, 255.0, out=out)
        np.subtract(out, self._base, out=out)
        np.multiply(out, m, out=out)
        np.add(out, self._base, out=out)  # base + m * (crop - base)
        np.clip(out, 0, 255, out=out)
        self._out[self.iy0:self.iy1, self.ix0:self.ix1] = out  # float -> uint8 truncates, as astype did
        return self._out
