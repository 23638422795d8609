"""Finding the scale of a received frame without the key.

The mark is periodic in its tile, so the power spectrum of a marked frame has lines on the comb
``(k, l) * size / (TILE * scale)``. Scoring every scale of the search grid by the whitened power on
its comb gives a few candidates, which the pilot correlation then refines on the fine grid. The
search is only a way of choosing where to look: the false-positive bound counts every scale of
``SCALE_GRID``, whichever were evaluated.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import pattern as P

SCALE_MIN, SCALE_MAX = 0.3, 2.1
LOG_STEP = 0.0005
SCALE_GRID = np.exp(np.arange(np.ceil(np.log(SCALE_MIN) / LOG_STEP), np.floor(np.log(SCALE_MAX) / LOG_STEP) + 1)
                    * LOG_STEP)
_HARMONICS = 24
# rotations the verifier may undo (degrees); the comb finds them to about 0.5 deg, the pilot correlation
# to ANGLE_STEP; the false-positive bound counts every angle of the grid
ANGLE_MAX, ANGLE_STEP = 3.5, 0.125
ANGLES = np.round(np.arange(-ANGLE_MAX, ANGLE_MAX + 1e-9, ANGLE_STEP), 6)


def _spectrum(grays: list[np.ndarray]) -> np.ndarray:
    acc = None
    for g in grays:
        y = g.astype(np.float32)
        r = y - cv2.GaussianBlur(y, (0, 0), 2.0)
        r /= cv2.GaussianBlur(np.abs(r), (0, 0), 4.0) + 2.0
        p = np.abs(np.fft.rfft2(r)) ** 2
        acc = p if acc is None else acc + p
    background = cv2.blur(acc.astype(np.float32), (9, 9), borderType=cv2.BORDER_REFLECT)
    return acc / (background + 1e-6)


def _bilinear(a: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    y1, x1 = (y0 + 1) % a.shape[0], np.minimum(x0 + 1, a.shape[1] - 1)
    return ((a[y0, x0] * (1 - fx) + a[y0, x1] * fx) * (1 - fy)
            + (a[y1, x0] * (1 - fx) + a[y1, x1] * fx) * fy)


def _comb_score(ratio: np.ndarray, shape: tuple[int, int], scales: np.ndarray, angle: float = 0.0) -> np.ndarray:
    h, w = shape
    k = np.arange(0, _HARMONICS + 1)[None, None, :]
    l = np.arange(-_HARMONICS, _HARMONICS + 1)[None, :, None]
    period = P.TILE * scales[:, None, None]
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    fx, fy = np.broadcast_arrays((k * c - l * s) * w / period, (k * s + l * c) * h / period)
    flip = fx < 0                      # the real FFT keeps one half-plane: use the symmetric line
    fx, fy = np.where(flip, -fx, fx), np.where(flip, -fy, fy)
    valid = (fx < w / 2 - 1) & (np.abs(fy) < h / 2 - 1) & ~((k == 0) & (l == 0))
    vals = _bilinear(ratio, fy % h, np.minimum(fx, ratio.shape[1] - 2))
    n = valid.sum(axis=(1, 2))
    return np.where(n > 8, ((vals - 1) * valid).sum(axis=(1, 2)) / np.sqrt(np.maximum(n, 1)), -np.inf)


def comb_candidates(grays: list[np.ndarray], count: int = 3, coarse: int = 8) -> list[tuple[float, float]]:
    """The ``count`` best-scoring (scale, angle) pairs (scales at least 2 % apart): scales of SCALE_GRID
    every ``coarse`` steps at angles every 0.5 deg, then refined at full scale resolution around the best."""
    ratio = _spectrum(grays)
    shape = grays[0].shape
    angles = ANGLES[::4]
    score = np.stack([_comb_score(ratio, shape, SCALE_GRID[::coarse], a) for a in angles])   # (angles, scales)
    picks: list[tuple[float, float]] = []
    for flat in np.argsort(score, axis=None)[::-1]:
        j, i = np.unravel_index(flat, score.shape)
        if not np.isfinite(score[j, i]) or len(picks) >= count:
            break
        lo = max(i * coarse - coarse, 0)
        local = SCALE_GRID[lo: i * coarse + coarse + 1]
        s = float(local[int(np.argmax(_comb_score(ratio, shape, local, float(angles[j]))))])
        if all(abs(np.log(s / q)) > 0.02 for q, _ in picks):
            picks.append((s, float(angles[j])))
    return picks


def fine_grid(center: float, span: float = 0.008) -> np.ndarray:
    """Grid scales within +-``span`` (relative) of ``center``."""
    lo, hi = np.searchsorted(SCALE_GRID, [center * (1 - span), center * (1 + span)])
    return SCALE_GRID[lo:hi]
