"""Build each output frame from clean inputs: the portrait, with the generated face crop pasted back
through the generator's feathered mask.

Every call starts from the portrait's own pixels (restored into the reused output buffer), so nothing
that a later stage writes into a frame -- the watermark, the badge -- carries over into the next one.
Only the part of the crop box inside the output is blended; everything outside the mask keeps the
portrait's own full-resolution pixels, so there are no seams. The output is the portrait cut to even
width and height (video encoders and 4:2:0 virtual cameras need even sizes), without resampling.
Buffers are allocated in ``open()``; the returned frame is reused on the next call.
"""
from __future__ import annotations

import cv2
import numpy as np

from .portrait import Portrait


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even (width, height) that fits: what the output of a portrait of this size is."""
    return width - width % 2, height - height % 2


class Compositor:
    def __init__(self, portrait: Portrait) -> None:
        self.portrait = portrait
        h, w = portrait.image.shape[:2]
        self.size = even_size(w, h)
        b = portrait.box
        self.side = max(int(round(b.side)), 1)
        bx0, by0 = int(round(b.x0)), int(round(b.y0))
        # output region covered by the box, and the matching region inside the resized crop
        self.ix0, self.iy0 = max(bx0, 0), max(by0, 0)
        self.ix1, self.iy1 = min(bx0 + self.side, self.size[0]), min(by0 + self.side, self.size[1])
        self.cx0, self.cy0 = self.ix0 - bx0, self.iy0 - by0
        self._out: np.ndarray | None = None

    def open(self) -> "Compositor":
        w, h = self.size
        self._clean = self.portrait.image[:h, :w]  # a view: the clean base of every frame
        self._out = np.empty((h, w, 3), np.uint8)
        self._base = self._clean[self.iy0:self.iy1, self.ix0:self.ix1].astype(np.float32)
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
        """The portrait itself (used before calibration), in the reused output buffer."""
        np.copyto(self._out, self._clean)
        return self._out

    def paste(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image (1,3,S,S), mask (1,1,S,S) float32 in [0,1] -> full frame HxWx3 uint8 (reused).

        The whole frame is restored from the portrait first: the previous frame's mark and badge
        were written into this buffer, and must not pile up."""
        out = self.neutral()
        if self.ix1 <= self.ix0 or self.iy1 <= self.iy0:
            return out
        np.copyto(self._hwc, image[0].transpose(1, 2, 0))
        cv2.resize(self._hwc, (self.side, self.side), dst=self._crop, interpolation=cv2.INTER_LINEAR)
        cv2.resize(mask[0, 0], (self.side, self.side), dst=self._mask, interpolation=cv2.INTER_LINEAR)
        ys, xs = slice(self.cy0, self.cy0 + self.iy1 - self.iy0), slice(self.cx0, self.cx0 + self.ix1 - self.ix0)
        crop, m, blend = self._crop[ys, xs], self._mask[ys, xs, None], self._blend
        np.multiply(crop, 255.0, out=blend)
        np.subtract(blend, self._base, out=blend)
        np.multiply(blend, m, out=blend)
        np.add(blend, self._base, out=blend)  # base + m * (crop - base)
        np.clip(blend, 0, 255, out=blend)
        out[self.iy0:self.iy1, self.ix0:self.ix1] = blend  # float -> uint8 truncates, as astype did
        return out
