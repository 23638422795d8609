"""Motion (pure numpy): landmarks -> K keypoints with 2x2 Jacobians -> motion relative to a calibration
frame, transferred onto the portrait's keypoints (FOMM's relative mode with scale adaptation) -> causal
One-Euro filtering. When the driver's face is lost the portrait holds its last pose and eases back to
neutral."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engines.layout import GAP_BASE, GAP_SLOPE, KEYPOINTS, KP_INDEX, NUM_KP
from ..engines.template import face_template
from .filters import OneEuro
from .neutral import NeutralScore
from .types import Landmarks, Motion

SHRINK = 0.15  # ridge toward the head Jacobian, as a share of each neighbourhood's spread
LIDS = ((KP_INDEX["r_upper_lid"], KP_INDEX["r_lower_lid"]), (KP_INDEX["l_upper_lid"], KP_INDEX["l_lower_lid"]))
LID_LANDMARKS = ((159, 145), (386, 374))  # MediaPipe: upper and lower lid centre, right and left eye
EYE_CLOSED = 0.02  # template units: an eye this little open is closed (lid landmarks never quite meet)
MAX_EYE_RATIO = 1.3  # a driver opening the eyes wider than at calibration opens the portrait's at most this much
# (inner, outer) lip keypoints, upper then lower: the outer one stays outside the inner one by at least
# MIN_LIP_THICKNESS of the portrait's lip thickness
LIPS = ((KP_INDEX["upper_inner_lip"], KP_INDEX["upper_lip"]), (KP_INDEX["lower_inner_lip"], KP_INDEX["lower_lip"]))
MIN_LIP_THICKNESS = 0.7


class KeypointFitter:
    """Least-squares affine fit of each keypoint's landmark neighbourhood to the face template.
    Everything that depends only on the template is precomputed; ``fit`` is a few vectorised einsums."""

    def __init__(self) -> None:
        t = face_template().astype(np.float64)
        n = max(len(k.landmarks) for k in KEYPOINTS)
        self.idx = np.zeros((NUM_KP, n), np.int64)
        self.w = np.zeros((NUM_KP, n), np.float64)
        for i, k in enumerate(KEYPOINTS):
            self.idx[i, : len(k.landmarks)] = k.landmarks
            self.w[i, : len(k.landmarks)] = 1.0 / len(k.landmarks)
        q = t[self.idx]  # (K,N,2)
        self.qc = (q - (self.w[..., None] * q).sum(1, keepdims=True)) * (self.w[..., None] > 0)
        cov = np.einsum("kn,kni,knj->kij", self.w, self.qc, self.qc)
        self.lam = SHRINK * np.trace(cov, axis1=1, axis2=2) / 2
        self.lam[0] = 0.0  # the head is fitted freely
        self.ginv = np.linalg.inv(cov + self.lam[:, None, None] * np.eye(2))

    def fit(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """xy: (478, 2) landmarks in any frame -> kp (K,2), jac (K,2,2) in that frame."""
        p = xy.astype(np.float64)[self.idx]  # (K,N,2)
        kp = (self.w[..., None] * p).sum(1)
        pc = p - kp[:, None]
        cross = np.einsum("kn,kni,knj->kij", self.w, pc, self.qc)
        head = cross[0] @ self.ginv[0]
        jac = np.einsum("kij,kjl->kil", cross + self.lam[:, None, None] * head, self.ginv)
        jac[0] = head
        return kp.astype(np.float32), jac.astype(np.float32)


def head_scale(jac: np.ndarray) -> float:
    """Linear scale of the head Jacobian (template units -> frame units)."""
    return math.sqrt(abs(float(np.linalg.det(jac[0].astype(np.float64)))))


@dataclass(frozen=True)
class CropBox:
    """Square box around a face: x0, y0 (top-left, pixels, may lie outside the image) and side."""

    x0: float
    y0: float
    side: float

    @staticmethod
    def around(kp0: np.ndarray, jac0: np.ndarray, scale: float = 2.3, lift: float = 0.2) -> "CropBox":
        """Box ``scale`` face-heights wide, centred ``lift`` face-heights above the face centre along the
        head's own up direction (head + hair + a margin for motion). kp0/jac0: head keypoint in pixels."""
        face_h = 2.0 * head_scale(jac0[None])
        up = jac0.astype(np.float64) @ np.array([0.0, -1.0])
        up /= max(float(np.linalg.norm(up)), 1e-9)
        cx, cy = kp0 + up * lift * face_h
        side = scale * face_h
        return CropBox(float(cx - side / 2), float(cy - side / 2), float(side))

    def to_norm(self, xy: np.ndarray) -> np.ndarray:
        """Pixels -> the crop's normalised coordinates ([-1, 1], align_corners=False)."""
        return ((xy - np.array([self.x0, self.y0], np.float32)) / self.side * 2.0 - 1.0).astype(np.float32)

    def jac_to_norm(self, jac: np.ndarray) -> np.ndarray:
        return (jac * (2.0 / self.side)).astype(np.float32)


CALIBRATIONS = ("neutral", "first", "steady")
NEUTRAL_MARGIN = 0.02  # template units: a frame must be this much more neutral to replace the reference
# ... and hold the head as the first frame did (nose tip within this, template units: about 5 degrees): the
# local keypoints of a turned head would carry the turn into the reference expression (a step in the pose)
NEUTRAL_POSE_TOL = 0.04


class MotionTransfer:
    """Driving landmarks -> portrait motion. Stateful per driving session (calibration, filter, hold).

    Calibration (the driving frame that maps onto the portrait at rest):
    - ``neutral`` (default): the first frame is the reference at once (output starts with the driver, and
      it stays the head-pose reference); the most neutral expression (mouth closed, eyes open, frontal:
      ``NeutralScore``) of the first ``neutral_s`` seconds, among the frames that hold the head as the first
      one did, replaces its expression. A driver who starts
      mid-word is re-referenced as soon as the mouth closes, instead of carrying the open mouth through
      the whole run, and the head's motion has no step when that happens;
    - ``first``: the first frame with a face;
    - ``steady``: the first frame of ``steady_frames`` still ones (or after ``max_wait`` frames).

    The One-Euro filter smooths a still face (1.5 Hz) but opens up as soon as the face moves (beta 300):
    lag in expressions costs more (mouth and lids behind the driver) than the sub-pixel jitter it removes."""

    def __init__(self, source: Motion, calibrate: str = "neutral", steady_frames: int = 5,
                 steady_tol: float = 0.012, max_wait: int = 45, neutral_s: float = 2.0, ease_s: float = 0.6,
                 min_cutoff: float = 1.5, beta: float = 300.0) -> None:
        if calibrate not in CALIBRATIONS:
            raise ValueError(f"calibrate: expected one of {', '.join(CALIBRATIONS)}, got {calibrate!r}")
        self.source = source
        self.mode, self.steady_frames, self.steady_tol, self.max_wait = calibrate, steady_frames, steady_tol, max_wait
        self.neutral_s = neutral_s
        self.neutral = NeutralScore()
        self._best = math.inf  # neutral mode: score of the current reference
        self._t_first: float | None = None  # neutral mode: time of the first calibration frame
        self._ref_nose = np.zeros(2)  # neutral mode: the first frame's nose tip (head pose), template frame
        self.ease_s = ease_s
        self.fitter = KeypointFitter()
        self.filter = OneEuro(NUM_KP * 6, min_cutoff=min_cutoff, beta=beta)
        self._src_flat = np.concatenate([source.kp.ravel(), source.jac.ravel()]).astype(np.float64)
        self._cur = self._src_flat.copy()
        self._history: list[np.ndarray] = []
        self._seen = 0
        self._ref: tuple[np.ndarray, np.ndarray, float] | None = None  # driver kp0, inv(jac0), scale
        self._ref_eyes = np.zeros(2)  # the driver's eye openings at calibration
        self._t_last: float | None = None

    @property
    def calibrated(self) -> bool:
        return self._ref is not None

    @property
    def settled(self) -> bool:
        """True once the reference can no longer change (neutral mode: after its window)."""
        return self._ref is not None and self._t_first is None

    def recalibrate(self) -> None:
        """Forget the calibration; the next frames set it again (as at the start, per the mode)."""
        self._ref = None
        self._history.clear()
        self._seen = 0
        self._best, self._t_first = math.inf, None
        self.filter.reset()

    def _set_ref(self, xy: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        s = head_scale(self.source.jac) / head_scale(jac)  # FOMM's scale adaptation
        self._ref = (kp, np.linalg.inv(jac.astype(np.float64)).astype(np.float32), s)
        self._ref_eyes = eye_openings(xy, head_scale(jac))

    def _set_expression_ref(self, xy: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        """A more neutral frame replaces the reference expression, not the reference head pose: its local
        keypoints and Jacobians are carried from its own head pose into the first frame's, so the head's
        motion stays continuous (a new head reference would step the pose) while the mouth and the eyes
        are measured from the neutral face."""
        kp0, jac0_inv, s = self._ref
        to_ref = np.linalg.inv(jac0_inv[0].astype(np.float64)) @ np.linalg.inv(jac[0].astype(np.float64))
        kp_new = kp0[0] + (kp.astype(np.float64) - kp[0]) @ to_ref.T
        jac_new = np.einsum("ij,kjl->kil", to_ref, jac.astype(np.float64))
        kp_new[0], jac_new[0] = kp0[0], np.linalg.inv(jac0_inv[0].astype(np.float64))
        self._ref = (kp_new.astype(np.float32), np.linalg.inv(jac_new).astype(np.float32), s)
        self._ref_eyes = eye_openings(xy, head_scale(jac))

    def _try_neutral(self, xy: np.ndarray, kp: np.ndarray, jac: np.ndarray, t_s: float) -> None:
        """Neutral mode, inside the window: keep the most neutral frame so far as the reference."""
        if self._ref is None:
            self._t_first = t_s
        score = self.neutral.score(xy, kp[0], jac[0])
        nose = self.neutral.nose(xy, kp[0], jac[0])
        if self._ref is None:
            self._best, self._ref_nose = score, nose
            self._set_ref(xy, kp, jac)
        elif score < self._best - NEUTRAL_MARGIN and np.linalg.norm(nose - self._ref_nose) < NEUTRAL_POSE_TOL:
            self._best = score
            self._set_expression_ref(xy, kp, jac)
        if t_s - self._t_first >= self.neutral_s:
            self._t_first = None  # settled

    def _try_calibrate(self, xy: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        self._seen += 1
        self._history.append(kp.ravel() / head_scale(jac))  # steadiness in face-size units
        self._history = self._history[-self.steady_frames:]
        steady = len(self._history) == self.steady_frames and float(
            np.ptp(np.stack(self._history), axis=0).max()) < self.steady_tol
        if self.mode == "first" or steady or self._seen >= self.max_wait:
            self._set_ref(xy, kp, jac)

    def update(self, lm: Landmarks | None, t_s: float) -> Motion:
        """One driving frame (or None: no face) at time t_s -> the portrait's motion for this frame."""
        dt = 0.0 if self._t_last is None else max(t_s - self._t_last, 0.0)
        self._t_last = t_s
        if lm is not None:
            kp, jac = self.fitter.fit(lm.xy)  # driver pixels
            if self.mode == "neutral" and (self._ref is None or self._t_first is not None):
                self._try_neutral(lm.xy, kp, jac, t_s)
            elif self._ref is None:
                self._try_calibrate(lm.xy, kp, jac)
            if self._ref is not None:
                kp0, jac0_inv, s = self._ref
                new_kp = self.source.kp + (kp - kp0) * s
                new_jac = np.einsum("kij,kjl,klm->kim", jac, jac0_inv, self.source.jac)
                self._eyes_as_ratios(new_kp, new_jac, eye_openings(lm.xy, head_scale(jac)))
                self._lips_keep_thickness(new_kp, new_jac)
                target = np.concatenate([new_kp.ravel(), new_jac.ravel()])
                self._cur[:] = self.filter(target, t_s)
                return self._motion(self._cur)
        # no face (or not calibrated yet): hold the last pose and ease back to neutral
        a = 1.0 - math.exp(-dt / self.ease_s) if dt > 0 else 0.0
        self._cur += a * (self._src_flat - self._cur)
        if lm is None:
            self.filter.reset()
        return self._motion(self._cur)

    def _eyes_as_ratios(self, new_kp: np.ndarray, new_jac: np.ndarray, eyes: np.ndarray) -> None:
        """The eyes open and close by the driver's ratio (opening now / at calibration), not by the driver's
        lid displacement: a driver with narrow eyes who closes them fully then closes a wide-eyed portrait's
        fully too (relative motion left it half open). Lid keypoints are moved apart or together about their
        midpoint, in place. The driver's openings are read from its lid landmarks (``eyes``, now; at
        calibration); the portrait's from its lid-keypoint gap (``GAP_SLOPE``, ``GAP_BASE``)."""
        s_s, s_new = head_scale(self.source.jac), head_scale(new_jac)
        rel = new_jac[0] @ np.linalg.inv(self.source.jac[0])  # the head's motion, portrait frame
        for (up, lo), o_d, o_d0 in zip(LIDS, eyes, self._ref_eyes):
            v_s = self.source.kp[lo] - self.source.kp[up]
            o_s = _opening(v_s, s_s)
            if o_d0 <= 2 * EYE_CLOSED or o_s <= EYE_CLOSED:
                continue  # closed at calibration, or a closed-eyed portrait: keep the relative motion
            q = min(max(o_d - EYE_CLOSED, 0.0) / (o_d0 - EYE_CLOSED), MAX_EYE_RATIO)
            gap = (q * o_s * GAP_SLOPE + GAP_BASE) * s_new  # keypoint gap in the output
            d = rel @ v_s
            d = d / max(float(np.linalg.norm(d)), 1e-9) * gap
            mid = 0.5 * (new_kp[up] + new_kp[lo])
            new_kp[up], new_kp[lo] = mid - 0.5 * d, mid + 0.5 * d

    def _lips_keep_thickness(self, new_kp: np.ndarray, new_jac: np.ndarray) -> None:
        """Relative motion can fold a lip: a driver whose inner lower lip drops further than its outer one (an
        'O', the lips rolled in) carries the portrait's inner lip past its outer one, and the warp squeezes the
        lip to nothing. The outer lip keypoint is pushed out (along the portrait's own inner-to-outer
        direction, carried by the head) until the lip keeps at least MIN_LIP_THICKNESS of the portrait's
        keypoint thickness, in place (nothing where the portrait's keypoints show none)."""
        rel = new_jac[0] @ np.linalg.inv(self.source.jac[0])  # the head's motion, portrait frame
        for inner, outer in LIPS:
            v_s = self.source.kp[outer] - self.source.kp[inner]
            v = rel @ v_s  # the portrait's lip, as the head carries it
            length = float(np.linalg.norm(v))
            if length < 1e-9:
                continue
            e = v / length
            short = MIN_LIP_THICKNESS * length - float((new_kp[outer] - new_kp[inner]) @ e)
            if short > 0:
                new_kp[outer] += short * e

    def _motion(self, flat: np.ndarray) -> Motion:
        k = NUM_KP
        kp = flat[: k * 2].reshape(k, 2).astype(np.float32)
        jac = _clamp_jacobians(flat[k * 2:].reshape(k, 2, 2), self.source.jac)
        return Motion(kp, jac)


def eye_openings(xy: np.ndarray, scale: float) -> np.ndarray:
    """(2,) right and left eye openings (template units) from the lid landmarks of a face."""
    return np.array([np.linalg.norm(xy[a] - xy[b]) for a, b in LID_LANDMARKS], np.float64) / scale


def _opening(v: np.ndarray, scale: float) -> float:
    """Eye opening (template units) from the vector between the lid keypoints and the head scale."""
    return max((float(np.linalg.norm(v)) / scale - GAP_BASE) / GAP_SLOPE, 0.0)


def _clamp_jacobians(jac: np.ndarray, ref: np.ndarray, lo: float = 0.25, hi: float = 3.0) -> np.ndarray:
    """Keep each Jacobian's singular values within [lo, hi] times the portrait's (no folds, no blow-ups)."""
    u, s, vt = np.linalg.svd(jac.astype(np.float64))
    s_ref = np.sqrt(np.abs(np.linalg.det(ref.astype(np.float64))))[:, None]
    s = np.clip(s, lo * s_ref, hi * s_ref)
    det_sign = np.sign(np.linalg.det(jac.astype(np.float64)))
    out = np.einsum("kij,kj,kjl->kil", u, s, vt)
    flip = det_sign < 0  # a mirrored Jacobian would fold the image: use the portrait's instead
    out[flip] = ref[flip]
    return out.astype(np.float32)
