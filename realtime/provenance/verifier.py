"""Verifying the mark in a stream: ``feed`` frames, then ``result``.

A window of frames is folded onto the mark's tile at each scale tried; the pilot correlation over
every phase, sub-chip offset and cyclic shift gives the best ``Z``, and ``p = H exp(-Z^2/2)`` with
``H`` the number of hypotheses of the whole search (every scale of the grid, even those skipped).
If the mark is present the payload is decoded at the best hypothesis and its HMAC checked.
``mac == "absent"`` means unknown -- never "real".
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import ecc
from . import fold as F
from . import pattern as P
from . import scale as S
from .keys import mac24

MAC_STATES = ("valid", "invalid", "absent")
RELIABLE_AGREEMENT = 0.6     # soft-bit agreement with the re-encoded payload above which a decode is trusted


@dataclass(frozen=True)
class MarkResult:
    marked: bool
    p_value: float
    mac: str
    session_id: int | None
    frames: int
    z: float = 0.0
    scale: float | None = None
    counter: int | None = None       # frame counter of the window's first frame (valid MAC only)
    hypotheses: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        if self.mac not in MAC_STATES:
            raise ValueError(f"MarkResult.mac: expected one of {MAC_STATES}, got {self.mac!r}")
        if not 0.0 <= self.p_value <= 1.0:
            raise ValueError(f"MarkResult.p_value: expected [0, 1], got {self.p_value}")


@dataclass
class _Entry:
    gray: np.ndarray
    index: int
    cache: dict          # whitened residual and folded features of this frame, by scale


@dataclass(frozen=True)
class _Hypothesis:
    scale: float
    z: float
    phase: int
    sub: int
    shift: tuple[int, int]
    feats: np.ndarray = field(repr=False)   # (N, SUBPHASES, GRID, GRID)


class MarkVerifier:
    """Checks a stream for the mark. ``scales=None`` searches SCALE_GRID (0.25-1.1 of the original
    size); a tuple of scales restricts the search (``(1.0,)`` for untouched output frames).
    ``index`` passed to ``feed`` is the frame's position in the stream (consecutive by default)."""

    def __init__(self, key: bytes, window: int = 30, scales: tuple[float, ...] | None = None,
                 alpha: float = 1e-6, search_frames: int = 10) -> None:
        if window < 1:
            raise ValueError(f"MarkVerifier window: expected >= 1, got {window}")
        if scales is not None and not all(0.05 < s < 8 for s in scales):
            raise ValueError(f"MarkVerifier scales: expected values in (0.05, 8), got {scales}")
        self.key, self.window, self.alpha = key, window, alpha
        self.scales = tuple(scales) if scales is not None else None
        self.search_frames = search_frames
        self._frames: deque[_Entry] = deque(maxlen=window)
        self._latest_epoch: dict[int, int] = {}
        self._next_index = 0
        self.last_hypothesis: _Hypothesis | None = None

    @property
    def hypotheses(self) -> int:
        n_scales = len(self.scales) if self.scales is not None else len(S.SCALE_GRID)
        return n_scales * F.SHIFTS_PER_SCALE

    def reset(self) -> None:
        """Forget the window (not the replay memory)."""
        self._frames.clear()

    def feed(self, image: np.ndarray, index: int | None = None) -> None:
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.ndim != 2 or min(image.shape) < 16:
            raise ValueError(f"MarkVerifier.feed image: expected HxWx3 or HxW, >= 16 px, got {image.shape}")
        if self._frames and image.shape != self._frames[-1].gray.shape:
            self._frames.clear()            # a new size is a new stream
        index = self._next_index if index is None else int(index)
        self._next_index = index + 1
        self._frames.append(_Entry(np.ascontiguousarray(image), index, {}))

    # -- search -------------------------------------------------------------------------------
    def _evaluate(self, entries: list[_Entry], scale: float, center: float) -> _Hypothesis:
        """Fold every frame at ``scale`` (whitened for ``center``), features cached per frame."""
        feats = []
        index = None
        for e in entries:
            key = (round(center, 9), round(scale, 9))
            if key not in e.cache:
                r = e.cache.get(center)
                if r is None:
                    r = F.whiten(e.gray, center)
                    e.cache.clear()             # keep one whitening per frame
                    e.cache[center] = r
                if index is None:   # whitened frames are shrunk by work_factor(center)
                    h, w = e.gray.shape
                    f = r.shape[0] / h, r.shape[1] / w
                    index = F.fold_index(r.shape, scale * float(np.sqrt(f[0] * f[1])))
                e.cache[key] = F.fold(r, index)
            feats.append(e.cache[key])
        feats = np.stack(feats)
        indices = np.array([e.index for e in entries], np.int64)
        groups, ids = F.group_features(feats, indices)
        z = F.pilot_z(groups, ids)
        k, sub, qy, qx = np.unravel_index(int(np.argmax(z)), z.shape)
        return _Hypothesis(scale, float(z[k, sub, qy, qx]), int(k), int(sub), (int(qy), int(qx)), feats)

    def _best_scale(self, entries: list[_Entry]) -> tuple[float, float]:
        """Comb candidates, each refined coarse-to-fine on SCALE_GRID with a few frames.
        -> (scale, whitening centre)."""
        pick = np.unique(np.linspace(0, len(entries) - 1, min(self.search_frames, len(entries))).astype(int))
        sub = [entries[i] for i in pick]
        size = max(entries[0].gray.shape)
        best: _Hypothesis | None = None
        best_center = 1.0
        for center in S.comb_candidates([e.gray for e in sub[:8]]):
            tol = P.CELL * center / (4 * size)         # relative scale error worth a quarter chip of drift
            grid = S.fine_grid(center, max(3 * tol, 0.004))
            step = max(1, int(tol / S.LOG_STEP))
            lo, hi = 0, len(grid)
            while True:
                found = max((self._evaluate(sub, s, center) for s in grid[lo:hi:step]), key=lambda h: h.z)
                if best is None or found.z > best.z:
                    best, best_center = found, center
                if step == 1:
                    break
                i = int(np.searchsorted(grid, found.scale))
                lo, hi, step = max(i - step, 0), i + step + 1, max(1, step // 3)
        return (best.scale, best_center) if best is not None else (1.0, 1.0)

    def result(self) -> MarkResult:
        if not self._frames:
            return MarkResult(False, 1.0, "absent", None, 0, note="no frames")
        entries = list(self._frames)
        indices = np.array([e.index for e in entries], np.int64)
        candidates = [(s, s) for s in self.scales] if self.scales is not None else [self._best_scale(entries)]
        best: _Hypothesis | None = None
        for s, center in candidates:
            h = self._evaluate(entries, s, center)
            if best is None or h.z > best.z:
                best = h
        self.last_hypothesis = best
        log_p = math.log(self.hypotheses) - best.z * best.z / 2 if best.z > 0 else 0.0
        p = math.exp(min(log_p, 0.0))
        if p > self.alpha:
            return MarkResult(False, p, "absent", None, len(entries), best.z, float(best.scale), None, self.hypotheses)
        mac, sid, counter, note = self._check_payload(best, indices)
        return MarkResult(True, p, mac, sid, len(entries), best.z, float(best.scale), counter, self.hypotheses, note)

    # -- payload ------------------------------------------------------------------------------
    def soft_bits(self, hyp: _Hypothesis, indices: np.ndarray) -> dict[int, np.ndarray]:
        """Soft coded bits per epoch offset (relative to the window's first frame)."""
        first = (hyp.phase + int(indices[0])) % P.PHASES
        soft: dict[int, np.ndarray] = {}
        for feat, idx in zip(hyp.feats, indices):
            count = first + int(idx - indices[0])
            phase, offset = count % P.PHASES, count // P.PHASES
            a = F.aligned(feat, hyp.sub, hyp.shift)
            chips = P.LAYOUT.bit[phase] >= 0
            vals = (P.LAYOUT.spread[phase] * a)[chips]
            vals = vals / (np.sqrt(np.mean(vals * vals)) + 1e-12)
            acc = soft.setdefault(offset, np.zeros(P.CODED_BITS))
            np.add.at(acc, P.LAYOUT.bit[phase][chips], vals)
        return soft

    def _check_payload(self, hyp: _Hypothesis, indices: np.ndarray) -> tuple[str, int | None, int | None, str]:
        first_phase = (hyp.phase + int(indices[0])) % P.PHASES
        valid: list[tuple[int, int, int]] = []   # (offset, session id, epoch)
        agreement, sids = 0.0, []
        for offset, soft in self.soft_bits(hyp, indices).items():
            bits = ecc.decode(soft)
            sid, epoch, tag = P.unpack_payload(bits)
            code = ecc.encode(bits).astype(np.float64) * 2 - 1
            agreement = max(agreement, float(soft @ code / (np.abs(soft).sum() + 1e-12)))
            sids.append(sid)
            if tag == mac24(self.key, sid, epoch):
                valid.append((offset, sid, epoch))
        if not valid:
            if agreement >= RELIABLE_AGREEMENT:
                return "invalid", sids[0], None, "payload read but its MAC does not match this key"
            return "absent", None, None, "mark found but payload unreadable"
        starts = {((epoch - offset) % (1 << P.EPOCH_BITS), sid) for offset, sid, epoch in valid}
        if len(starts) != 1:
            return "invalid", valid[0][1], None, "inconsistent epochs within the window"
        (start_epoch, sid), = starts
        latest = self._latest_epoch.get(sid)
        if latest is not None and start_epoch < latest:
            return "invalid", sid, None, f"replayed counter: epoch {start_epoch} after {latest}"
        self._latest_epoch[sid] = start_epoch
        return "valid", sid, start_epoch * P.PHASES + first_phase, ""
