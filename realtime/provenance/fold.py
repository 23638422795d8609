"""Verifier building blocks: whitening, folding a frame onto the mark's tile at a hypothesised scale,
and the pilot correlation over every cyclic shift and phase.

Statistic: for one hypothesis (scale, phase, shift), ``Z = sum(s_i x_i) / sqrt(sum(x_i^2))`` over the
pilot chips ``s_i`` (independent fair +-1, independent of any unmarked image) and the folded features
``x_i``. Hoeffding gives ``P(Z >= t) <= exp(-t^2 / 2)`` whatever the image; the union bound over all
hypotheses of the search multiplies that by their number.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import pattern as P

BINS = 2 * P.GRID            # fold resolution: 2 bins per chip -> 4 sub-chip offsets
SUBPHASES = 4
SHIFTS_PER_SCALE = SUBPHASES * P.GRID * P.GRID * P.PHASES   # hypotheses tested at one scale
_FB = np.conj(np.fft.fft2(P.LAYOUT.pilot))                  # (PHASES, GRID, GRID)
_FM = np.conj(np.fft.fft2(P.LAYOUT.pilot_mask))
_FB_T = _FB.reshape(P.PHASES, -1).T.copy()                    # (F, PHASES)
_FM_T = _FM.reshape(P.PHASES, -1).T.copy()


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
def fold_index(shape: tuple[int, int], scale: float) -> np.ndarray:
    """Flat tile-bin index (BINS*BINS) of every pixel of a ``shape`` frame at ``scale`` (cached, read-only)."""
    h, w = shape
    step = P.TILE / BINS
    by = (((np.arange(h) + 0.5) / scale) % P.TILE // step).astype(np.int32)
    bx = (((np.arange(w) + 0.5) / scale) % P.TILE // step).astype(np.int32)
    index = (by[:, None] * BINS + bx[None, :]).ravel()
    index.flags.writeable = False
    return index


def fold(residual: np.ndarray, index: np.ndarray) -> np.ndarray:
    """-> (SUBPHASES, GRID, GRID) chip features: 2x2-bin sums of the folded residual."""
    f = np.bincount(index, weights=residual.ravel(), minlength=BINS * BINS).reshape(BINS, BINS)
    f = np.concatenate([f, f[:1]], axis=0)
    s = f[:-1] + f[1:]
    s = np.concatenate([s, s[:, :1]], axis=1)
    s = s[:, :-1] + s[:, 1:]
    return np.stack([s[py::2, px::2] for py in (0, 1) for px in (0, 1)])


def pilot_z(groups: np.ndarray, group_ids: np.ndarray) -> np.ndarray:
    """groups (G, SUBPHASES, GRID, GRID): features summed per frame-index class ``group_ids`` (index mod
    PHASES). -> Z of shape (PHASES, SUBPHASES, GRID, GRID): first-frame phase x sub-offset x shift."""
    g = groups.shape[0]
    fx = np.fft.fft2(groups).reshape(g, SUBPHASES, -1).transpose(2, 0, 1)             # (F, G, 4)
    fx2 = np.fft.fft2(groups * groups).reshape(g, SUBPHASES, -1).transpose(2, 0, 1)
    idx = (np.arange(P.PHASES)[:, None] + group_ids[None, :]) % P.PHASES             # (PHASES, G)
    num = np.matmul(_FB_T[:, idx], fx)                                                # (F, PHASES, 4)
    den = np.matmul(_FM_T[:, idx], fx2)
    shape = (P.PHASES, SUBPHASES, P.GRID, P.GRID)
    num = np.fft.ifft2(num.transpose(1, 2, 0).reshape(shape)).real
    den = np.fft.ifft2(den.transpose(1, 2, 0).reshape(shape)).real
    return num / np.sqrt(np.maximum(den, 1e-12))


def group_features(feats: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum per-frame features (N, SUBPHASES, GRID, GRID) of frames sharing ``index % PHASES``."""
    ids = indices % P.PHASES
    uniq, inv = np.unique(ids, return_inverse=True)
    out = np.zeros((uniq.size,) + feats.shape[1:])
    np.add.at(out, inv, feats)
    return out, uniq


def aligned(feat: np.ndarray, sub: int, shift: tuple[int, int]) -> np.ndarray:
    """Chip features of one frame under hypothesis (sub-offset, cyclic cell shift), pattern-aligned."""
    return np.roll(feat[sub], (-shift[0], -shift[1]), axis=(0, 1))
