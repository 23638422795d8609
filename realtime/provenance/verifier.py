"""Verifying the mark in a set of frames: ``feed`` frames (any order, any rate), then ``result``.

The window's frames are folded onto the mark's tile at each scale tried, as received and mirrored; the
pilot correlation over every sub-chip offset and cyclic shift gives the best ``Z``, and
``p = H exp(-Z^2/2)`` with ``H`` the number of hypotheses of the whole search (every scale of the grid,
even those skipped, times every rotation angle and both orientations). If the mark is present its payload is decoded at the best
hypothesis and read with each key the user holds; the content signature it carries is compared with the
frames' own. ``status``:

* ``valid``: the payload opens under one of the keys and its signature matches these frames;
* ``unbound``: it opens under a key but was made for other content (transplanted or copied);
* ``foreign``: readable, but opens under none of the keys (another key, or forged);
* ``damaged``: the mark is present but its payload cannot be read reliably;
* ``anonymous``: the public anonymous codeword (anonymous mode: nobody can be attributed);
* ``absent``: no mark found -- which never means "real".
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import binding as B
from . import ecc
from . import fold as F
from . import pattern as P
from . import scale as S

STATUSES = ("valid", "unbound", "foreign", "damaged", "anonymous", "absent")


@dataclass(frozen=True)
class MarkResult:
    marked: bool
    p_value: float
    status: str
    session_id: int | None
    frames: int
    z: float = 0.0
    scale: float | None = None
    mirrored: bool = False
    rotation: float = 0.0            # degrees the frames were turned back by (full search only)
    hypotheses: int = 0
    key_id: str | None = None        # which of the user's keys opened the payload
    binding: float | None = None     # content-signature agreement (1 = this content, ~0 = other content)
    agreement: float | None = None   # soft-bit agreement of the decoded payload
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"MarkResult.status: expected one of {STATUSES}, got {self.status!r}")
        if not 0.0 <= self.p_value <= 1.0:
            raise ValueError(f"MarkResult.p_value: expected [0, 1], got {self.p_value}")


@dataclass
class _Entry:
    gray: np.ndarray
    cache: dict          # whitened residual and folded features of this frame, by scale
    thumbs: dict = field(default_factory=dict)   # content thumbnail of this frame, by (mirrored, angle)


@dataclass(frozen=True)
class _Hypothesis:
    scale: float
    z: float
    orient: int
    sub: int
    shift: tuple[int, int]
    feats: np.ndarray = field(repr=False)   # (N, ORIENTATIONS, SUBPHASES, GRID, GRID)
    angle: float = 0.0                      # degrees the frames were turned back by
    center: float = 1.0                     # the scale the frames were whitened for


def _turned(gray: np.ndarray, angle: float) -> np.ndarray:
    """The frame turned by ``angle`` degrees about its centre (0: the frame itself)."""
    if angle == 0.0:
        return gray
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _fold_index(frame: tuple[int, ...], residual: tuple[int, ...], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``fold.fold_index`` of a ``frame``-sized frame whitened to ``residual`` size (``whiten`` shrinks frames by
    ``work_factor``), at ``scale`` of the original."""
    f = residual[0] / frame[0], residual[1] / frame[1]
    return F.fold_index(residual, scale * float(np.sqrt(f[0] * f[1])))


def as_keyring(keys: bytes | list[tuple[str, bytes]] | None) -> tuple[tuple[str, bytes], ...]:
    """A key, a list of (name, key), or None (presence only) -> tuple of (name, key)."""
    if keys is None:
        return ()
    if isinstance(keys, bytes):
        return (("current", keys),)
    return tuple((str(n), k) for n, k in keys)


class MarkVerifier:
    """Checks frames for the mark. ``keys``: the user's key, a list of (name, key) (current and retired),
    or None to check presence only. ``scales=None`` searches SCALE_GRID (0.3-2.1 of the original size);
    a tuple of scales restricts the search (``(1.0,)`` for untouched output frames)."""

    def __init__(self, keys: bytes | list[tuple[str, bytes]] | None, window: int = 30,
                 scales: tuple[float, ...] | None = None, alpha: float = 1e-6, search_frames: int = 10) -> None:
        if window < 1:
            raise ValueError(f"MarkVerifier window: expected >= 1, got {window}")
        if scales is not None and not all(0.05 < s < 8 for s in scales):
            raise ValueError(f"MarkVerifier scales: expected values in (0.05, 8), got {scales}")
        self.keys = as_keyring(keys)
        self.window, self.alpha = window, alpha
        self.scales = tuple(scales) if scales is not None else None
        self.search_frames = search_frames
        self._frames: deque[_Entry] = deque(maxlen=window)
        self.last_hypothesis: _Hypothesis | None = None
        self._geometry: tuple[float, float, float] | None = None   # (scale, centre, angle) of the last valid window
        self._shape: tuple[int, ...] | None = None                 # frame size of the stream

    @property
    def hypotheses(self) -> int:
        if self.scales is not None:
            return len(self.scales) * F.SHIFTS_PER_SCALE
        return len(S.SCALE_GRID) * len(S.ANGLES) * F.SHIFTS_PER_SCALE

    def _log_p(self, hyp: _Hypothesis) -> float:
        """log of the hypothesis' p-value. Full search: a Bonferroni split, half of ``alpha`` to the
        upright family (every scale, angle 0) and half to the turned one (every scale, every other angle),
        so that undoing rotations costs upright marks almost nothing."""
        if self.scales is not None:
            family = self.hypotheses
        else:
            upright = len(S.SCALE_GRID) * F.SHIFTS_PER_SCALE
            family = 2 * (upright if hyp.angle == 0.0 else self.hypotheses - upright)
        return math.log(family) - hyp.z * hyp.z / 2 if hyp.z > 0 else 0.0

    def reset(self) -> None:
        """Forget the window (the geometry of the last valid window is kept: the next window of the
        same stream tries it first)."""
        self._frames.clear()

    def feed(self, image: np.ndarray) -> None:
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.ndim != 2 or min(image.shape) < 16:
            raise ValueError(f"MarkVerifier.feed image: expected HxWx3 or HxW, >= 16 px, got {image.shape}")
        if image.shape != self._shape:
            self._frames.clear()            # a new size is a new stream
            self._geometry, self._shape = None, image.shape
        self._frames.append(_Entry(np.ascontiguousarray(image), {}))

    # -- search -------------------------------------------------------------------------------
    def _evaluate(self, entries: list[_Entry], scale: float, center: float, angle: float = 0.0) -> _Hypothesis:
        """Fold every frame, turned back by ``angle``, at ``scale`` (whitened for ``center``); features
        cached per frame."""
        feats = []
        index = None
        for e in entries:
            key = (round(center, 9), round(scale, 9), angle)
            if key not in e.cache:
                r = e.cache.get((center, angle))
                if r is None:
                    r = F.whiten(_turned(e.gray, angle), center)
                    e.cache.clear()             # keep one whitening per frame
                    e.cache[(center, angle)] = r
                if index is None:
                    index = _fold_index(e.gray.shape, r.shape, scale)
                e.cache[key] = F.fold(r, index)
            feats.append(e.cache[key])
        feats = np.stack(feats)
        z = F.pilot_z(feats.sum(axis=0))
        o, sub, qy, qx = np.unravel_index(int(np.argmax(z)), z.shape)
        return _Hypothesis(scale, float(z[o, sub, qy, qx]), int(o), int(sub), (int(qy), int(qx)), feats, angle,
                           center)

    def _centers(self, sub: list[_Entry]) -> list[tuple[float, float]]:
        """(scale, angle) worth refining: the periodicity comb's best candidates, and scale 1.0 (untouched
        size) at angle 0 and at the comb's best angle (the comb can prefer a sub-harmonic scale)."""
        centers = S.comb_candidates([e.gray for e in sub[:8]])
        for angle in {0.0, centers[0][1] if centers else 0.0}:
            if all(abs(math.log(c)) > 0.01 or a != angle for c, a in centers):
                centers.append((1.0, angle))
        return centers

    def _best_angle(self, sub: list[_Entry], center: float, angle: float) -> float:
        """The comb's angle refined on ANGLES (+-0.5 deg) by the pilot correlation at the comb's scale. Only
        to choose the angle: each frame is whitened once and its residual turned per angle (whitening is
        isotropic), a tenth of whitening every turned frame again; the verdict is then computed at the chosen
        angle as everywhere else (``_evaluate``)."""
        if angle == 0.0:
            return 0.0
        near = S.ANGLES[np.abs(S.ANGLES - angle) <= 0.5 + 1e-9]
        residuals = [F.whiten(e.gray, center) for e in sub]
        index = _fold_index(sub[0].gray.shape, residuals[0].shape, center)

        def z(a: float) -> float:
            feats = sum(F.fold(_turned(r, a), index) for r in residuals)
            return float(F.pilot_z(feats).max())

        return float(max(near, key=lambda a: z(float(a))))

    def _best_scale(self, entries: list[_Entry]) -> list[tuple[float, float, float]]:
        """Candidates, each refined coarse-to-fine on SCALE_GRID with a few frames. -> the best upright and
        the best turned (scale, centre, angle)."""
        pick = np.unique(np.linspace(0, len(entries) - 1, min(self.search_frames, len(entries))).astype(int))
        sub = [entries[i] for i in pick]
        size = max(entries[0].gray.shape)
        best: dict[bool, tuple[_Hypothesis, float]] = {}
        for center, angle in self._centers(sub):
            angle = self._best_angle(sub, center, angle)
            tol = P.CELL * center / (4 * size)         # relative scale error worth a quarter chip of drift
            grid = S.fine_grid(center, max(3 * tol, 0.004))
            if grid.size == 0:
                continue
            step = max(1, int(tol / S.LOG_STEP))
            lo, hi = 0, len(grid)
            while True:
                found = max((self._evaluate(sub, s, center, angle) for s in grid[lo:hi:step]), key=lambda h: h.z)
                turned = angle != 0.0
                if turned not in best or found.z > best[turned][0].z:
                    best[turned] = found, center
                if step == 1:
                    break
                i = int(np.searchsorted(grid, found.scale))
                lo, hi, step = max(i - step, 0), i + step + 1, max(1, step // 3)
        return [(h.scale, c, h.angle) for h, c in best.values()] or [(1.0, 1.0, 0.0)]

    def result(self) -> MarkResult:
        """The window's verdict. With the full search, the geometry of the stream's last valid window is
        tried first and kept if it gives a valid verdict again (a file keeps its geometry); otherwise the
        search runs. Evaluating fewer hypotheses never lowers the p-value: it always counts the whole
        search."""
        if not self._frames:
            return MarkResult(False, 1.0, "absent", None, 0, note="no frames")
        entries = list(self._frames)
        if self.scales is None and self._geometry is not None:
            found = self._verdict(entries, [self._geometry])
            if found.status == "valid":
                return found
        candidates = [(s, s, 0.0) for s in self.scales] if self.scales is not None else self._best_scale(entries)
        return self._verdict(entries, candidates)

    def _verdict(self, entries: list[_Entry], candidates: list[tuple[float, float, float]]) -> MarkResult:
        best = min((self._evaluate(entries, s, c, a) for s, c, a in candidates), key=self._log_p)
        self.last_hypothesis = best
        p = math.exp(min(self._log_p(best), 0.0))
        common = dict(z=best.z, scale=float(best.scale), mirrored=bool(best.orient), rotation=best.angle,
                      hypotheses=self.hypotheses)
        if p > self.alpha:
            return MarkResult(False, p, "absent", None, len(entries), **common)
        found = self._check_payload(best, entries, p, common)
        if found.status == "valid":
            self._geometry = (best.scale, best.center, best.angle)
        return found

    # -- payload ------------------------------------------------------------------------------
    def soft_candidates(self, hyp: _Hypothesis) -> list[np.ndarray]:
        """Soft coded bits (CODED_BITS,) of the window, best first: (1) with the window's mean removed
        (what the frames have in common cancels) and each frame's sign read from its flip pilots,
        (2) without removing the mean (a single frame, or frames that all share one sign)."""
        a = np.stack([F.aligned(f, hyp.orient, hyp.sub, hyp.shift) for f in hyp.feats])    # (N, GRID, GRID)
        chips = P.LAYOUT.bit >= 0
        out = []
        for feats in ((a - a.mean(axis=0)) if len(a) > 1 else None, a):
            if feats is None:
                continue
            signs = np.where((feats * P.LAYOUT.flip).sum(axis=(1, 2)) >= 0, 1.0, -1.0)
            vals = (P.LAYOUT.spread * feats)[:, chips]
            vals /= np.sqrt(np.mean(vals * vals, axis=1, keepdims=True)) + 1e-12
            soft = np.zeros(P.CODED_BITS)
            np.add.at(soft, P.LAYOUT.bit[chips], (signs[:, None] * vals).sum(axis=0))
            out.append(soft)
        return out

    def read_payload(self, hyp: _Hypothesis) -> tuple[np.ndarray, float, bool]:
        """-> (decoded payload bits, soft agreement with their codeword, public check holds). Tries each
        soft candidate in both polarities; the first that passes the check wins."""
        first = None
        for soft in self.soft_candidates(hyp):
            for polarity in (1.0, -1.0):
                bits = ecc.decode(polarity * soft)
                code = ecc.encode(bits).astype(np.float64) * 2 - 1
                agreement = float(polarity * soft @ code / (np.abs(soft).sum() + 1e-12))
                if P.readable(bits):
                    return bits, agreement, True
                first = first or (bits, agreement, False)
        return first

    def content_projections(self, key: bytes, entries: list[_Entry], mirrored: bool, angle: float = 0.0) -> np.ndarray:
        """Keyed projections of the frames' mean thumbnail, turned and mirrored back as the mark was."""
        thumbs = []
        for e in entries:    # each frame's thumbnail once: a sliding window sees a frame up to `window` times
            thumb = e.thumbs.get((mirrored, angle))
            if thumb is None:
                g = _turned(e.gray, angle)
                thumb = e.thumbs[(mirrored, angle)] = B.thumbnail(np.ascontiguousarray(g[:, ::-1]) if mirrored else g)
            thumbs.append(thumb)
        return B.projections(key, np.mean(thumbs, axis=0))

    def _check_payload(self, hyp: _Hypothesis, entries: list[_Entry], p: float, common: dict) -> MarkResult:
        bits, agreement, readable = self.read_payload(hyp)
        n = len(entries)
        if not readable:
            return MarkResult(True, p, "damaged", None, n, agreement=agreement, note="payload unreadable", **common)
        for name, key in self.keys:
            opened = P.open_payload(key, bits)
            if opened is None:
                continue
            sid, signature = opened
            bound = B.score(signature, self.content_projections(key, entries, bool(hyp.orient), hyp.angle))
            if bound >= B.BOUND_SCORE:
                return MarkResult(True, p, "valid", sid, n, key_id=name, binding=bound, agreement=agreement, **common)
            return MarkResult(True, p, "unbound", sid, n, key_id=name, binding=bound, agreement=agreement,
                              note="payload made with this key for other content", **common)
        if np.array_equal(bits, P.ANONYMOUS_BITS):
            return MarkResult(True, p, "anonymous", None, n, agreement=agreement, **common)
        note = "payload read, but it opens under none of the keys given" if self.keys else "no key to read it"
        return MarkResult(True, p, "foreign", None, n, agreement=agreement, note=note, **common)
