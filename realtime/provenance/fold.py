"""Verifier building blocks: whitening, folding a frame onto the mark's tile at a hypothesised scale
(both as received and mirrored), and the pilot correlation over every cyclic shift.

Statistic: for one hypothesis (scale, mirror, sub-chip offset, shift), ``Z = sum(s_i x_i) /
sqrt(sum(x_i^2))`` over the pilot chips ``s_i`` (independent fair +-1, independent of any unmarked
image) and the folded features ``x_i``. Hoeffding gives ``P(Z >= t) <= exp(-t^2 / 2)`` whatever the
image; the union bound over all hypotheses of the search multiplies that by their number.

A horizontal mirror reverses the tile's columns: folding is done once, and the mirrored hypothesis
reads the folded bins with their column axis reversed (the cyclic shift search absorbs the offset).
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import pattern as P

BINS = 2 * P.GRID            # fold resolution: 2 bins per chip -> 4 sub-chip offsets
SUBPHASES = 4
ORIENTATIONS = 2             # as received, mirrored left-right
SHIFTS_PER_SCALE = ORIENTATIONS * SUBPHASES * P.GRID * P.GRID   # hypotheses tested at one scale
_FB = np.conj(np.fft.fft2(P.LAYOUT.pilot))                      # (GRID, GRID)
_FM = np.conj(np.fft.fft2(P.LAYOUT.pilot_mask))


def work_factor(scale: float) -> float:
    """Frames with chips larger than 4 px are shrunk by this factor before whitening (speed)."""
    return min(1.0, 4.0 / (P.CELL * scale))


def whiten(gray: np.ndarray, scale: float) -> np.ndarray:
    """Luma -> residual with the host's low frequencies removed and local contrast equalised, at
    ``work_factor(scale)`` of the frame's size."""
    f = work_factor(scale)
    if f < 1.0:
        h, w = gray.shape
        gray = cv2.resize(gray, (max(round(w * f), 1), max(round(h * f), 1)), interpolation=cv2.INTER_AREA)
    y = gray.astype(np.float32)
    cell = P.CELL * scale * f
    r = y - cv2.GaussianBlur(y, (0, 0), max(0.8 * cell, 0.8))
    mag = cv2.GaussianBlur(np.abs(r), (0, 0), max(2.0 * cell, 1.5))
    return r / (mag + 2.0)


@lru_cache(maxsize=64)
def fold_index(shape: tuple[int, int], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Tile-bin membership of a ``shape`` frame's rows and columns at ``scale``: one-hot matrices
    (BINS, h) and (w, BINS), so that folding is two matrix products (cached, read-only)."""
    h, w = shape
    step = P.TILE / BINS
    by = (((np.arange(h) + 0.5) / scale) % P.TILE // step).astype(np.int32)
    bx = (((np.arange(w) + 0.5) / scale) % P.TILE // step).astype(np.int32)
    rows = np.zeros((BINS, h), np.float32)
    rows[by, np.arange(h)] = 1.0
    cols = np.zeros((w, BINS), np.float32)
    cols[np.arange(w), bx] = 1.0
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


def _chips(f: np.ndarray) -> np.ndarray:
    f = np.concatenate([f, f[:1]], axis=0)
    s = f[:-1] + f[1:]
    s = np.concatenate([s, s[:, :1]], axis=1)
    s = s[:, :-1] + s[:, 1:]
    return np.stack([s[py::2, px::2] for py in (0, 1) for px in (0, 1)])


def fold(residual: np.ndarray, index: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """-> (ORIENTATIONS, SUBPHASES, GRID, GRID) chip features: 2x2-bin sums of the folded residual, as
    received and mirrored. ``index``: ``fold_index`` of the residual's shape."""
    rows, cols = index
    f = (rows @ (residual.astype(np.float32, copy=False) @ cols)).astype(np.float64)
    return np.stack([_chips(f), _chips(f[:, ::-1])])


def pilot_z(feat: np.ndarray) -> np.ndarray:
    """feat: features summed over the window's frames (ORIENTATIONS, SUBPHASES, GRID, GRID), in any
    order. -> Z of the same shape: orientation x sub-offset x shift."""
    num = np.fft.ifft2(np.fft.fft2(feat) * _FB).real
    den = np.fft.ifft2(np.fft.fft2(feat * feat) * _FM).real
    return num / np.sqrt(np.maximum(den, 1e-12))


def aligned(feat: np.ndarray, orient: int, sub: int, shift: tuple[int, int]) -> np.ndarray:
    """Chip features of one frame under hypothesis (orientation, sub-offset, cyclic cell shift),
    pattern-aligned."""
    return np.roll(feat[orient, sub], (-shift[0], -shift[1]), axis=(0, 1))
