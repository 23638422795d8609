"""Embedding the invisible mark: a stage that adds the frame's chip pattern to luma, in place.

Adding the same value to B, G and R changes luma by that value and leaves both chroma channels
untouched, so the mark survives 4:2:0 chroma subsampling. Chip amplitudes follow a texture mask
(more in busy areas, less in flat ones, capped in the busiest areas, see ``WEIGHT_CAP``) and
are normalised so the mark's RMS is at most ``strength`` grey levels in every frame (2.2 -> PSNR about
41 dB). See ``pattern.py`` for the layout and ``binding.py`` for the content signature in the payload.
"""
from __future__ import annotations

import secrets

import cv2
import numpy as np

from . import binding as B
from . import pattern as P

_KAPPA = 0.443          # mean square of a bilinearly upsampled +-1 chip grid
_MIN_SIDE = 64
# Busiest-area cap on the texture weight: the mark's RMS over an area is about strength * this at most
# (2.2 * 1.6 = 3.5 grey levels: 37 dB; a 32x32 tile holds only 4x4 chips, whose smoothed mean square
# varies about the average, so about 35.5 dB in the worst tile of the shared portraits).
WEIGHT_CAP = 1.6


class _SizeBuffers:
    """Everything ``embed`` needs for one frame size, allocated once."""

    def __init__(self, h: int, w: int) -> None:
        self.gh, self.gw = -(-h // P.CELL), -(-w // P.CELL)
        rows = np.arange(self.gh) % P.GRID
        cols = np.arange(self.gw) % P.GRID
        self.tile_index = (rows[:, None] * P.GRID + cols[None, :]).ravel()
        self.quarter = (max(w // 4, 1), max(h // 4, 1))
        self.gray = np.empty((h, w), np.uint8)
        self.small = np.empty((self.quarter[1], self.quarter[0]), np.uint8)
        self.amp = np.empty((self.gh, self.gw), np.float32)
        self.amp3 = np.empty((self.gh, self.gw, 3), np.float32)
        self.field = np.empty((self.gh * P.CELL, self.gw * P.CELL, 3), np.float32)
        self.view = self.field[:h, :w]

    def grey(self, image: np.ndarray) -> None:
        """Fill ``gray`` (the frame's luma: the content thumbnail's) and ``small`` (the same at a quarter of
        the size: the texture weight's). Grey first, then shrunk: one channel costs a third of three."""
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=self.gray)
        cv2.resize(self.gray, self.quarter, dst=self.small, interpolation=cv2.INTER_AREA)


def texture_weight(small_gray: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per-chip amplitude weight from local luma activity of the frame's quarter-size grey
    (``_SizeBuffers.small``), mean square 1 before the busiest chips are capped at ``WEIGHT_CAP`` (the cap only
    lowers the mark). ``grid`` is (gw, gh)."""
    act = np.abs(cv2.Laplacian(small_gray, cv2.CV_32F))
    act = cv2.resize(act, grid, interpolation=cv2.INTER_AREA)
    weight = np.sqrt(act / (float(act.mean()) + 1e-3) + 0.5)
    weight /= np.sqrt(float(np.mean(weight * weight)))
    return np.minimum(weight, WEIGHT_CAP, out=weight)


MODES = ("attributed", "anonymous")


class Watermarker:
    """Stage: ``embed(image, counter)`` marks a BGR uint8 frame in place.

    ``mode="attributed"``: ``key`` encrypts the session id (24 bits, random when None), keys the content
    signature and authenticates both. ``mode="anonymous"``: no key (it must be None) and no session: every
    frame carries the same public codeword, so nothing in the mark tells one user or session from another.
    """

    def __init__(self, key: bytes | None, session_id: int | None = None, strength: float = 2.2,
                 mode: str = "attributed") -> None:
        if mode not in MODES:
            raise ValueError(f"Watermarker mode: expected one of {MODES}, got {mode!r}")
        if mode == "anonymous":
            if key is not None or session_id is not None:
                raise ValueError("Watermarker mode 'anonymous': expected key=None and session_id=None "
                                 "(an anonymous mark carries nothing attributable)")
        elif not isinstance(key, bytes) or len(key) < 16:
            raise ValueError(f"Watermarker key: expected >= 16 bytes, got {type(key).__name__} of "
                             f"{len(key) if isinstance(key, bytes) else '?'}")
        if mode == "attributed" and session_id is None:
            session_id = secrets.randbits(P.SID_BITS)
        if session_id is not None and not 0 <= session_id < (1 << P.SID_BITS):
            raise ValueError(f"Watermarker session_id: expected 0..{(1 << P.SID_BITS) - 1}, got {session_id}")
        if not 0 < strength <= 8:
            raise ValueError(f"Watermarker strength: expected (0, 8] grey levels, got {strength}")
        self.key, self.session_id, self.strength, self.mode = key, session_id, strength, mode
        self._buffers: dict[tuple[int, int], _SizeBuffers] = {}
        self.signature: int | None = None
        self._mean_thumb: np.ndarray | None = None
        self._calls = 0
        self.payload_changes = 0
        self._static, self._flipping = P.chip_tiles(P.anonymous_payload()) if mode == "anonymous" else (None, None)
        self._tile = np.empty((P.GRID, P.GRID), np.float32)
        self._opened = False

    def open(self) -> "Watermarker":
        self._opened = True
        return self

    def close(self) -> None:
        self._buffers.clear()
        self._opened = False

    def __enter__(self) -> "Watermarker":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _chips(self, gray: np.ndarray, counter: int) -> np.ndarray:
        """The frame's chip tile. Attributed: the payload follows the signature of the running mean
        thumbnail (of the full-size grey: a thumbnail of the quarter-size one agreed less well with what the
        verifier reads after transport), with hysteresis (kept while it agrees at ``binding.HOLD_SCORE``),
        so it rarely changes."""
        if self.mode == "attributed" and (self.signature is None or self._calls % B.REFRESH == 0):
            thumb = B.thumbnail(gray)
            if self._mean_thumb is None:
                self._mean_thumb = thumb
            else:
                self._mean_thumb += B.SMOOTHING * (thumb - self._mean_thumb)
            proj = B.projections(self.key, self._mean_thumb)
            if self.signature is None or B.score(self.signature, proj) < B.HOLD_SCORE:
                self.signature = B.to_int(proj)
                self._static, self._flipping = P.chip_tiles(P.pack_payload(self.key, self.session_id, self.signature))
                self.payload_changes += 1
        self._calls += 1
        np.multiply(self._flipping, P.flip_sign(counter), out=self._tile)
        self._tile += self._static
        return self._tile

    def embed(self, image: np.ndarray, counter: int) -> None:
        """Add the mark to ``image`` (HxWx3 uint8, >= 64x64) in place. ``counter`` (>= 0) is the frame's
        number: it only picks the sign of the flipping chips, which every frame carries itself (order-free
        verification)."""
        if not self._opened:
            raise RuntimeError("Watermarker.embed called before open()")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"Watermarker.embed image: expected HxWx3 uint8, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if h < _MIN_SIDE or w < _MIN_SIDE:
            raise ValueError(f"Watermarker.embed image: expected at least {_MIN_SIDE}x{_MIN_SIDE}, got {w}x{h}")
        if counter < 0:
            raise ValueError(f"Watermarker.embed counter: expected >= 0, got {counter}")
        buf = self._buffers.get((h, w))
        if buf is None:
            buf = self._buffers[(h, w)] = _SizeBuffers(h, w)
        buf.grey(image)
        tile = self._chips(buf.gray, counter)
        weight = texture_weight(buf.small, (buf.gw, buf.gh))
        gain = self.strength / np.sqrt(_KAPPA)
        np.multiply(tile.ravel()[buf.tile_index].reshape(buf.gh, buf.gw), weight, out=buf.amp)
        buf.amp *= gain
        buf.amp3[...] = buf.amp[:, :, None]
        cv2.resize(buf.amp3, (buf.field.shape[1], buf.field.shape[0]), dst=buf.field,
                   interpolation=cv2.INTER_LINEAR)
        cv2.add(image, buf.view, dst=image, dtype=cv2.CV_8U)
