"""Reading a presenter view back (from a decoded file or a screenshot): each panel by its rectangle,
text lines by matching them as the layout renders them."""
from __future__ import annotations

import cv2
import numpy as np

from mimicam.realtime.badge import _render
from mimicam.realtime.present_layout import LAMP, PANEL_BG, SPARK, TEXT, PresenterCanvas, _fit, _text


def panel(view: np.ndarray, canvas: PresenterCanvas, name: str) -> np.ndarray:
    x, y, w, h = canvas.layout.rects[name]
    return view[y:y + h, x:x + w]


def has_line(region: np.ndarray, line: str, px: int, color=TEXT, bg=PANEL_BG, thresh: float = 0.97) -> float:
    """Best normalised match of ``line`` rendered as the layout does; returns the score if >= thresh, else 0."""
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, px, 1)
    (tw, th), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_DUPLEX, scale, 1)
    tpl = np.empty((th + base + 8, tw + 8, 3), np.uint8)
    tpl[:] = bg
    _text(tpl, line, (4, th + 4), px, color)
    # a thin strip (the footer) is padded with its background so that the template fits
    region = cv2.copyMakeBorder(region, 8, 8, 8, 8, cv2.BORDER_CONSTANT, value=tuple(int(v) for v in bg))
    if tpl.shape[0] > region.shape[0] or tpl.shape[1] > region.shape[1]:
        return 0.0
    score = float(cv2.matchTemplate(region, tpl, cv2.TM_CCOEFF_NORMED).max())
    return score if score >= thresh else 0.0


def lamp_state(view: np.ndarray, canvas: PresenterCanvas) -> str:
    """Which verdict colour the provenance lamp shows (nearest of LAMP)."""
    v = panel(view, canvas, "provenance")
    step, r = int(canvas.px * 1.9), canvas.px
    cx, cy = v.shape[1] - 2 * r - 8, step
    c = v[cy - r // 3: cy + r // 3, cx - r // 3: cx + r // 3].reshape(-1, 3).mean(0)
    return min(LAMP, key=lambda k: float(np.abs(c - np.array(LAMP[k])).sum()))


def spark_pixels(view: np.ndarray, canvas: PresenterCanvas) -> int:
    x0, y0, w, h = canvas.spark_box()
    box = panel(view, canvas, "latency")[y0 + 2:y0 + h - 1, x0 + 2:x0 + w - 1].astype(np.int16)
    return int((np.abs(box - np.array(SPARK)).sum(2) < 90).sum())


def badge_score(image: np.ndarray, text: str) -> float:
    """How well the bottom-left corner of an avatar frame holds the badge reading ``text``."""
    patch, (x, y) = _render(image.shape[1], image.shape[0], text)
    return float(cv2.matchTemplate(image, patch, cv2.TM_CCOEFF_NORMED).max())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two images resized to 64x64 grey."""
    g = [cv2.resize(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64)
         for x in (a, b)]
    g = [(x - x.mean()) / (x.std() + 1e-9) for x in g]
    return float((g[0] * g[1]).mean())


def panel_matches(region: np.ndarray, image: np.ndarray, canvas: PresenterCanvas) -> float:
    """Similarity of a driver/avatar panel with ``image`` letterboxed as the layout does (label rows left out)."""
    expected = np.empty_like(region)
    _fit(expected, image)
    top = int(canvas.px * 1.9)
    return similarity(region[top:], expected[top:])


def detail(region: np.ndarray, skip_top: int = 0) -> float:
    """Fine detail (mean |Laplacian| at half size) in the middle of a panel, away from the picture's edges."""
    g = cv2.cvtColor(region[skip_top:], cv2.COLOR_BGR2GRAY)
    h, w = g.shape
    g = g[h // 4: 3 * h // 4, 2 * w // 5: 3 * w // 5]
    g = cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)  # no 8-bit steps
    return float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())
