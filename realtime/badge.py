"""The visible "SYNTHETIC" badge, burned last into every generated frame, and the labelled slate sent
instead of a frame whenever a frame cannot be generated, marked or badged.

The badge is rendered once per (frame size, text) and blended per frame. Its height is 6% of the frame
height (at least 18 px), bold white on a dark red plate with a white outline, so it stays readable after
downscaling to 360p and JPEG q30."""
from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_DUPLEX
PLATE_BGR = (24, 24, 170)


def _render(w: int, h: int, text: str) -> tuple[np.ndarray, tuple[int, int]]:
    plate_h = max(18, int(round(h * 0.06)))
    scale = cv2.getFontScaleFromHeight(FONT, int(plate_h * 0.55), 2)
    thick = max(1, int(round(plate_h / 14)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    pad = int(plate_h * 0.3)
    plate_w = min(tw + 2 * pad, w - 4)
    patch = np.empty((plate_h, plate_w, 3), np.uint8)
    patch[:] = PLATE_BGR
    cv2.rectangle(patch, (0, 0), (plate_w - 1, plate_h - 1), (255, 255, 255), max(1, plate_h // 16))
    org = (pad, (plate_h + th) // 2)
    cv2.putText(patch, text, org, FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    margin = max(4, int(h * 0.02))
    return patch, (margin, h - plate_h - margin)


def badge_rect(width: int, height: int, text: str = "SYNTHETIC") -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the plate that ``Badge.draw`` burns into a width x height frame."""
    patch, (x, y) = _render(width, height, text)
    return x, y, x + patch.shape[1], y + patch.shape[0]


class Badge:
    """Burns ``text`` into the bottom-left corner of frames, in place."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, str], tuple[np.ndarray, tuple[int, int]]] = {}

    def draw(self, image: np.ndarray, text: str = "SYNTHETIC") -> np.ndarray:
        h, w = image.shape[:2]
        key = (w, h, text)
        if key not in self._cache:
            self._cache[key] = _render(w, h, text)
        patch, (x, y) = self._cache[key]
        image[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
        return image


def make_slate(width: int, height: int, message: str, badge: Badge | None = None) -> np.ndarray:
    """A dark frame that says what is going on, badged: what is sent when no generated frame can be."""
    img = np.full((height, width, 3), 32, np.uint8)
    scale = cv2.getFontScaleFromHeight(FONT, max(10, height // 22), 1)
    lines = ["mimicam", message]
    for i, line in enumerate(lines):
        (tw, th), _ = cv2.getTextSize(line, FONT, scale, 1)
        org = (max(4, (width - tw) // 2), height // 2 + (i - 1) * int(th * 2.2))
        cv2.putText(img, line, org, FONT, scale, (230, 230, 230), 1, cv2.LINE_AA)
    return (badge or Badge()).draw(img, "SYNTHETIC")
