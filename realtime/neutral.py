"""How far a driving face is from a neutral face: mouth closed, eyes open, frontal. Pure numpy, from
landmarks only. The reference is the face template (the Procrustes mean of the training clips'
landmarks): every measure is taken in the head's template frame, so it does not depend on the face's
size, position or in-plane rotation.

Used to pick the calibration frame: the driving frame that maps onto the portrait at rest should show
the driver at rest, not mid-word or mid-blink, or every later frame carries that offset."""
from __future__ import annotations

import numpy as np

from ..engines.template import face_template

UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
LIDS = ((159, 145), (386, 374))  # (upper, lower) lid, right and left eye
NOSE_TIP = 1
EYE_OPEN_SHARE = 0.8  # an eye opened less than this share of the template's counts as (half) closed
# weights: template units (face oval 2 units tall). An open mouth mid-word is 0.1-0.4, a blink 0.05-0.09,
# a 15-degree head turn moves the nose tip about 0.13.
W_MOUTH, W_EYES, W_POSE = 1.0, 2.0, 1.0


class NeutralScore:
    """``score(xy, kp0, jac0)`` -> distance from neutral (0 = closed mouth, open eyes, the template's pose;
    larger is less neutral). xy: (478, 2) landmarks; kp0, jac0: the head keypoint and Jacobian fitted to them."""

    def __init__(self) -> None:
        t = face_template().astype(np.float64)
        self.eye_ref = float(np.mean([np.linalg.norm(t[a] - t[b]) for a, b in LIDS]))
        self.nose_ref = t[NOSE_TIP]

    @staticmethod
    def _template_frame(xy: np.ndarray, kp0: np.ndarray, jac0: np.ndarray) -> np.ndarray:
        return (xy.astype(np.float64) - kp0) @ np.linalg.inv(jac0.astype(np.float64)).T

    def nose(self, xy: np.ndarray, kp0: np.ndarray, jac0: np.ndarray) -> np.ndarray:
        """(2,) the nose tip in the head's template frame: moves with yaw and pitch, not with the expression."""
        return self._template_frame(xy, kp0, jac0)[NOSE_TIP]

    def parts(self, xy: np.ndarray, kp0: np.ndarray, jac0: np.ndarray) -> tuple[float, float, float]:
        """(inner-lip gap, eye closure below EYE_OPEN_SHARE of the template's opening, nose-tip offset from the
        template's: yaw and pitch), in template units."""
        u = self._template_frame(xy, kp0, jac0)
        mouth = float(np.linalg.norm(u[UPPER_INNER_LIP] - u[LOWER_INNER_LIP]))
        eyes = float(np.mean([np.linalg.norm(u[a] - u[b]) for a, b in LIDS]))
        closed = max(EYE_OPEN_SHARE * self.eye_ref - eyes, 0.0)
        pose = float(np.linalg.norm(u[NOSE_TIP] - self.nose_ref))
        return mouth, closed, pose

    def score(self, xy: np.ndarray, kp0: np.ndarray, jac0: np.ndarray) -> float:
        mouth, closed, pose = self.parts(xy, kp0, jac0)
        return W_MOUTH * mouth + W_EYES * closed + W_POSE * pose
