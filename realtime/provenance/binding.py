"""Binding the payload to the content it marks: a keyed, coarse, robust signature of the frame's
low-frequency luma.

The frame's luma is averaged into a THUMB x THUMB thumbnail (whatever its size or aspect), its smoothest
part removed (a blur of HIGHPASS thumbnail cells: what every centred face shares), centred and normalised
(brightness and contrast do not matter), and projected on SIG_BITS keyed Gaussian directions; the signs
are the signature. The embedder puts the signature into the MAC'd payload; the verifier recomputes the
projections of the mean thumbnail of the frames it received (mirrored back when the mark was mirrored)
and scores the agreement, weighted by each projection's magnitude (1 = same content, about 0 = unrelated
content). The embedder signs a running mean of its frames' thumbnails (``SMOOTHING``), so a moving face
rarely changes the payload while the scene stays the same. Without the key nobody can compute the signature, so a payload copied onto other footage
cannot be adjusted to match it.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .keys import signature_seed

THUMB = 48
HIGHPASS = 2.0
SIG_BITS = 40
# Chosen on the shared clips (own frames 10 frames on, JPEG q50 at half size: median score >= 0.73; other
# clips: <= 0.56); `python -m mimicam.tools.provenance_bench` measures both on held-out renders.
BOUND_SCORE = 0.65     # verifier: agreement at or above this = the payload belongs to this content
HOLD_SCORE = 0.75      # embedder: keep the current signature while the running mean still agrees this well
SMOOTHING = 0.15       # embedder: weight of each new thumbnail in the running mean
REFRESH = 4            # embedder: a new thumbnail every REFRESH frames (it costs a few ms at 720p)


@lru_cache(maxsize=16)
def _directions(key: bytes) -> np.ndarray:
    rng = np.random.default_rng(signature_seed(key))
    w = rng.standard_normal((SIG_BITS, THUMB * THUMB)).astype(np.float32)
    w.flags.writeable = False
    return w


def _eighth(gray: np.ndarray) -> np.ndarray:
    """The frame averaged over 8x8 pixels (an integer factor: OpenCV's fast area path)."""
    h, w = gray.shape
    return cv2.resize(gray, (max(w // 8, 1), max(h // 8, 1)), interpolation=cv2.INTER_AREA).astype(np.float32)


# Black bars at the frame's edges (letterbox, pillarbox: what a call app or an encoder adds) are left out of the
# signature: a bar line has a median below BAR_DARK and a median absolute deviation below BAR_FLAT (medians: the
# mark's noise or a badge across part of a line do not make it content), at most BAR_MOST of each side
BAR_DARK, BAR_FLAT, BAR_MOST = 24.0, 4.0, 0.45


def _content_in_eighth(small: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the content, without black bars, in the frame's ``_eighth`` (its rows and columns).
    Where an axis's first and last lines are both content, it has no bar: those two lines decide alone."""

    def content(lines: np.ndarray) -> np.ndarray:
        """(n, m) lines -> (n,) True where a line is content, not bar."""
        med = np.median(lines, axis=1)
        mad = np.median(np.abs(lines - med[:, None]), axis=1)
        return (med >= BAR_DARK) | (mad >= BAR_FLAT)

    def inner(lines: np.ndarray) -> tuple[int, int]:
        n = lines.shape[0]
        if content(lines[[0, -1]]).all():  # no bar on either side (the usual case): two lines, not all
            return 0, n
        idx = np.flatnonzero(content(lines))
        if idx.size == 0:
            return 0, n
        return min(idx[0], int(n * BAR_MOST)), max(idx[-1] + 1, n - int(n * BAR_MOST))

    y0, y1 = inner(small)
    x0, x1 = inner(small.T)
    return y0, y1, x0, x1


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """HxW luma (uint8 or float) -> (THUMB*THUMB,) float32, zero mean, unit RMS, of the frame without
    black bars at its edges. A content box of 8 x THUMB pixels or more is area-averaged in two steps (8x8 pixels,
    the average the bar search reads, then to THUMB x THUMB): 1.1 ms at 1280x720 instead of 3.4 for one
    resize from full size (the two agree to a correlation of 0.99 and a signature score of 0.975 or more on the
    shared clips); a smaller one in one step."""
    small = _eighth(gray)
    y0, y1, x0, x1 = _content_in_eighth(small)
    box = small[y0:y1, x0:x1]
    if min(box.shape) >= THUMB:
        t = cv2.resize(box, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    else:
        sy, sx = gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1]
        full = gray[int(y0 * sy):int(round(y1 * sy)), int(x0 * sx):int(round(x1 * sx))]
        t = cv2.resize(full, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
    t = (t - cv2.GaussianBlur(t, (0, 0), HIGHPASS)).ravel()
    t -= t.mean()
    return t / (np.sqrt(np.mean(t * t)) + 0.5)


def projections(key: bytes, thumb: np.ndarray) -> np.ndarray:
    """(SIG_BITS,) keyed projections of a thumbnail (or of the mean of several)."""
    return thumb @ _directions(key).T


def to_int(proj: np.ndarray) -> int:
    """Signs of the projections as an integer, bit ``i`` (MSB first) = projection ``i`` > 0."""
    value = 0
    for p in proj:
        value = (value << 1) | int(p > 0)
    return value


def score(signature: int, proj: np.ndarray) -> float:
    """Magnitude-weighted agreement of a signature with projections (SIG_BITS,), in [-1, 1]."""
    signs = np.array([((signature >> (SIG_BITS - 1 - i)) & 1) * 2 - 1 for i in range(SIG_BITS)], np.float64)
    mag = np.abs(proj).sum()
    return float(signs @ proj / mag) if mag > 0 else 0.0
