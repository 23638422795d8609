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
SMOOTHING = 0.05       # embedder: weight of each new frame in the running mean thumbnail


@lru_cache(maxsize=16)
def _directions(key: bytes) -> np.ndarray:
    rng = np.random.default_rng(signature_seed(key))
    w = rng.standard_normal((SIG_BITS, THUMB * THUMB)).astype(np.float32)
    w.flags.writeable = False
    return w


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """HxW luma (uint8 or float) -> (THUMB*THUMB,) float32, zero mean, unit RMS."""
    t = cv2.resize(gray, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
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
