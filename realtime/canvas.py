"""The output's own size: a standard canvas that the portrait is fitted onto once, at open.

Live output (virtual camera, preview, bench) is a standard frame, 1280x720 unless the user asks for
another size; offline output (``render``) keeps the portrait's aspect, its shorter side at least
``MIN_RENDER_SHORT`` and its longer side at most ``MAX_RENDER_SIDE``.
The portrait is scaled to fit without distortion (one scale for both axes) and centred; the rest of
the canvas is a blurred, dimmed, cover-scaled copy of the portrait (what phones and video-call apps
show around a portrait-shaped picture), never a stretch. Everything after this -- the face crop, the
compositor, the mark, the badge and the sink -- works at canvas size, so a 6000-px portrait costs the
same per frame as a 128-px one.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError

DEFAULT_SIZE = (1280, 720)
MAX_RENDER_SIDE = 1920  # render: a larger portrait is scaled down to this longer side
MIN_RENDER_SHORT = 720  # render: a smaller one is scaled up to this shorter side (the mark needs room)
MIN_SIDE, MAX_SIDE = 64, 7680  # the mark needs 64 px; 8K is the largest frame anyone sends
_BACKGROUND_GAIN = 0.6  # the padding is dimmed so the portrait stands out


@dataclass(frozen=True)
class Placement:
    """Where the portrait sits on the canvas (pixels) and how much it was scaled."""

    x: int
    y: int
    width: int
    height: int
    scale: float


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720). Sizes are even (video encoders and virtual cameras need it)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"--size {text!r} is not WIDTHxHEIGHT", "write it like 1280x720") from None
    return check_size((w, h), f"--size {text}")


def check_size(size: tuple[int, int], what: str = "output size") -> tuple[int, int]:
    w, h = (int(v) for v in size)
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise InputError(f"{what}: {w}x{h} is outside {MIN_SIDE}..{MAX_SIDE} pixels per side",
                         "use a size such as 1280x720, 1920x1080 or 640x360")
    if w % 2 or h % 2:
        raise InputError(f"{what}: {w}x{h} has an odd side; video encoders and virtual cameras need even sizes",
                         f"use {w - w % 2}x{h - h % 2}")
    return w, h


def render_size(width: int, height: int, max_side: int = MAX_RENDER_SIDE,
                min_short: int = MIN_RENDER_SHORT) -> tuple[int, int]:
    """The offline output size of a portrait: its own aspect, the shorter side at least ``min_short`` (a
    small portrait is scaled up: the watermark's tile must repeat enough for ``verify`` to find it in a
    recording) and the longer side at most ``max_side``, even."""
    s = min(max(1.0, min_short / min(width, height)), max_side / max(width, height))
    w, h = max(MIN_SIDE, int(width * s)), max(MIN_SIDE, int(height * s))
    return w - w % 2, h - h % 2


def _background(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The portrait cover-scaled to the canvas (aspect kept, centre cut), heavily blurred and dimmed.
    Computed at 1/16 of the canvas, so it is cheap for any portrait size."""
    w_out, h_out = size
    h, w = image.shape[:2]
    s = max(w_out / w, h_out / h)
    cw, ch = min(w, max(1, round(w_out / s))), min(h, max(1, round(h_out / s)))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    small = (max(4, w_out // 16), max(4, h_out // 16))
    bg = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], small, interpolation=cv2.INTER_AREA)
    bg = cv2.GaussianBlur(bg, (0, 0), sigmaX=2.0, borderType=cv2.BORDER_REFLECT)
    bg = cv2.resize(bg, size, interpolation=cv2.INTER_LINEAR)
    return cv2.convertScaleAbs(bg, alpha=_BACKGROUND_GAIN)


def fit_to_canvas(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Placement]:
    """The portrait on a ``size`` = (width, height) canvas, aspect kept, centred, padded (see above).

    A portrait that already has the canvas size, up to its odd last row or column, is cut, not
    resampled. Returns a new contiguous HxWx3 uint8 array and where the portrait sits on it."""
    w_out, h_out = size
    h, w = image.shape[:2]
    if (w - w % 2, h - h % 2) == (w_out, h_out):
        return np.ascontiguousarray(image[:h_out, :w_out]), Placement(0, 0, w_out, h_out, 1.0)
    s = min(w_out / w, h_out / h)
    fw, fh = min(w_out, max(1, round(w * s))), min(h_out, max(1, round(h * s)))
    fg = cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x, y = (w_out - fw) // 2, (h_out - fh) // 2
    canvas = _background(image, size) if (fw, fh) != (w_out, h_out) else np.empty((h_out, w_out, 3), np.uint8)
    canvas[y:y + fh, x:x + fw] = fg
    return canvas, Placement(x, y, fw, fh, s)
