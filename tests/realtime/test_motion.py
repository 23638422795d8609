import numpy as np
import pytest

from mimicam.engines.layout import NUM_KP
from mimicam.engines.template import face_template
from mimicam.realtime.filters import OneEuro
from mimicam.realtime.motion import CropBox, KeypointFitter, MotionTransfer, head_scale
from mimicam.realtime.types import Landmarks, Motion


def _landmarks(xy: np.ndarray) -> Landmarks:
    pts = np.zeros((478, 3), np.float32)
    pts[:, :2] = xy
    return Landmarks(pts, (640, 480))


def _face(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return face_template() @ a.T + t


def test_keypoints_and_jacobians_recover_a_known_affine():
    a = np.array([[80.0, 12.0], [-9.0, 95.0]])
    t = np.array([320.0, 240.0])
    kp, jac = KeypointFitter().fit(_face(a, t))
    assert kp.shape == (NUM_KP, 2) and jac.shape == (NUM_KP, 2, 2)
    np.testing.assert_allclose(jac, np.broadcast_to(a, jac.shape), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(kp[0], face_template()[list(range(478))].mean(0) * 0 + kp[0])  # finite
    assert head_scale(jac) == pytest.approx(np.sqrt(np.linalg.det(a)), rel=1e-4)


def test_local_jacobian_follows_a_local_stretch():
    from mimicam.engines.layout import KEYPOINTS, KP_INDEX

    xy = _face(np.eye(2) * 100, np.array([300.0, 300.0]))
    fitter = KeypointFitter()
    kp0, jac0 = fitter.fit(xy)
    nose = list(KEYPOINTS[KP_INDEX["nose"]].landmarks)
    xy2 = xy.copy()
    centre = xy[nose].mean(0)
    xy2[nose] = centre + (xy[nose] - centre) * np.array([1.4, 1.0])  # the nostrils flare
    kp, jac = fitter.fit(xy2)
    i = KP_INDEX["nose"]
    assert jac[i, 0, 0] > 1.2 * jac0[i, 0, 0]  # horizontal stretch seen by the nose keypoint
    assert abs(jac[i, 1, 1] - jac0[i, 1, 1]) < 0.05 * jac0[i, 1, 1]
    j = KP_INDEX["l_upper_lid"]
    np.testing.assert_allclose(jac[j], jac0[j], rtol=1e-3, atol=1e-2)  # elsewhere unchanged
    # closing the right eye moves the upper-lid keypoint down
    lids = [246, 161, 160, 159, 158, 157, 173]
    xy3 = xy.copy()
    xy3[lids, 1] += 6.0
    kp3, _ = fitter.fit(xy3)
    assert kp3[KP_INDEX["r_upper_lid"], 1] > kp0[KP_INDEX["r_upper_lid"], 1] + 2.0


def _source() -> Motion:
    fitter = KeypointFitter()
    kp, jac = fitter.fit(_face(np.eye(2) * 100, np.array([256.0, 256.0])))
    box = CropBox.around(kp[0], jac[0])
    return Motion(box.to_norm(kp), box.jac_to_norm(jac))


def test_relative_motion_is_transferred_with_scale_adaptation():
    src = _source()
    mt = MotionTransfer(src, calibrate="first", min_cutoff=1e6)  # no smoothing
    a = np.eye(2) * 50.0  # the driver's face is half the size of the portrait's
    m0 = mt.update(_landmarks(_face(a, np.array([200.0, 200.0]))), 0.0)
    np.testing.assert_allclose(m0.kp, src.kp, atol=1e-4)  # the calibration frame maps to the portrait at rest
    m1 = mt.update(_landmarks(_face(a, np.array([210.0, 200.0]))), 1 / 30)
    dx = (m1.kp - src.kp)[:, 0]
    # 10 driver px on a 50-px face = 0.2 face units; in the portrait crop that is 0.2 * head scale
    expected = 10.0 / 50.0 * np.sqrt(abs(np.linalg.det(src.jac[0])))
    np.testing.assert_allclose(dx, expected, rtol=1e-3)


def test_steady_calibration_waits_for_stillness_and_can_be_reset():
    src = _source()
    mt = MotionTransfer(src, calibrate="steady", steady_frames=5, min_cutoff=1e6)
    rng = np.random.default_rng(0)
    for i in range(4):  # moving: not calibrated
        mt.update(_landmarks(_face(np.eye(2) * 80, np.array([200.0 + 20 * i, 200.0]))), i / 30)
    assert not mt.calibrated
    for i in range(5):
        mt.update(_landmarks(_face(np.eye(2) * 80, np.array([300.0, 200.0]) + rng.normal(0, 0.05, 2))), (4 + i) / 30)
    assert mt.calibrated
    mt.recalibrate()
    assert not mt.calibrated


def test_lost_face_holds_then_eases_back_to_neutral():
    src = _source()
    mt = MotionTransfer(src, calibrate="first", min_cutoff=1e6, ease_s=0.5)
    mt.update(_landmarks(_face(np.eye(2) * 100, np.array([200.0, 200.0]))), 0.0)
    moved = mt.update(_landmarks(_face(np.eye(2) * 100, np.array([240.0, 200.0]))), 0.033)
    held = mt.update(None, 0.066)
    assert np.abs(held.kp - moved.kp).max() < 0.1 * np.abs(moved.kp - src.kp).max()  # holds the pose
    late = mt.update(None, 3.0)
    np.testing.assert_allclose(late.kp, src.kp, atol=1e-3)  # back to neutral


def test_one_euro_smooths_jitter_but_follows_motion():
    f = OneEuro(1, min_cutoff=1.0, beta=0.5)
    rng = np.random.default_rng(1)
    out = [float(f(np.array([rng.normal(0, 1.0)]), i / 30)[0]) for i in range(300)]
    assert np.std(out[50:]) < 0.6  # raw jitter has std 1.0
    g = OneEuro(1, min_cutoff=1.0, beta=0.5)
    ramp = [float(g(np.array([i * 1.0]), i / 30)[0]) for i in range(60)]
    assert ramp[-1] > 50


UPPER_LIDS = {"r": [246, 161, 160, 159, 158, 157, 173], "l": [466, 388, 387, 386, 385, 384, 398]}
LOWER_LIDS = {"r": [7, 163, 144, 145, 153, 154, 155], "l": [249, 390, 373, 374, 380, 381, 382]}


def _eyes(xy: np.ndarray, closed: float, wider: float = 0.0) -> np.ndarray:
    """Upper lids moved down by ``closed`` of the way to the lower ones; both lids moved apart by ``wider``
    of the opening (a wide-eyed face)."""
    out = xy.copy()
    for e in ("r", "l"):
        up, lo = UPPER_LIDS[e], LOWER_LIDS[e]
        gap = out[lo, 1] - out[up, 1]
        out[up, 1] += (closed - wider / 2) * gap
        out[lo, 1] += wider / 2 * gap
    return out


def _openings(m: Motion) -> np.ndarray:
    from mimicam.engines.layout import KP_INDEX
    from mimicam.realtime.motion import _opening

    s = head_scale(m.jac)
    return np.array([_opening(m.kp[KP_INDEX[f"{e}_lower_lid"]] - m.kp[KP_INDEX[f"{e}_upper_lid"]], s) for e in "rl"])


def test_a_scripted_blink_closes_a_wide_eyed_portrait_fully():
    """A driver with ordinary eyes blinks fully (0 -> closed -> open, 10 frames); the portrait's eyes are
    twice as open. Its eyes close by the driver's ratio: amplitude ratio >= 0.9 (relative motion reached
    0.67), and they open again to their own rest."""
    fitter = KeypointFitter()
    face = _face(np.eye(2) * 100, np.array([256.0, 256.0]))
    kp, jac = fitter.fit(_eyes(face, 0.0, wider=1.0))
    box = CropBox.around(kp[0], jac[0])
    src = Motion(box.to_norm(kp), box.jac_to_norm(jac))
    rest = _openings(src)
    mt = MotionTransfer(src, calibrate="first", min_cutoff=1e6)
    a = np.eye(2) * 60.0
    script = [0.0, 0.0, 0.3, 0.7, 1.0, 1.0, 0.6, 0.2, 0.0, 0.0]
    seen = [_openings(mt.update(_landmarks(_eyes(_face(a, np.array([200.0, 210.0])), c)), i / 30))
            for i, c in enumerate(script)]
    seen = np.array(seen)
    amplitude = (rest - seen.min(0)) / rest
    assert (amplitude >= 0.9).all()
    np.testing.assert_allclose(seen[-1], rest, rtol=0.02)  # open again, at the portrait's own opening
    assert (seen[3] < seen[2]).all() and (seen[2] < rest).all()  # follows the driver down ...
    assert (seen[3] <= 0.35 * rest).all()  # ... at least as far, in proportion, as the driver (70% closed)
    assert (seen[6] > seen[5]).all() and (seen[7] > seen[6]).all()  # ... and up again


def test_a_lip_rolled_in_by_the_driver_keeps_its_thickness_on_the_portrait():
    """The driver drops the inner lower lip well past the outer one (an 'O' with the lip rolled in). Relative
    motion alone carried the portrait's inner lip below its outer one, and the warp squeezed that lip to
    nothing; the outer keypoint now stays at least 0.7 of the portrait's lip thickness below the inner one.
    A driver who only opens the mouth (both move together) is transferred unchanged."""
    from mimicam.engines.layout import KEYPOINTS, KP_INDEX

    src = _source()
    li, ll = KP_INDEX["lower_inner_lip"], KP_INDEX["lower_lip"]
    thickness = float(src.kp[ll, 1] - src.kp[li, 1])
    assert thickness > 0
    a, t = np.eye(2) * 50.0, np.array([200.0, 200.0])
    inner = list(KEYPOINTS[li].landmarks)
    lower = [i for i in KEYPOINTS[ll].landmarks if i not in inner]

    def run(drop_inner: float, drop_outer: float) -> Motion:
        mt = MotionTransfer(src, calibrate="first", min_cutoff=1e6)
        face = _face(a, t)
        mt.update(_landmarks(face), 0.0)
        moved = face.copy()
        moved[inner, 1] += drop_inner
        moved[lower, 1] += drop_outer
        return mt.update(_landmarks(moved), 1 / 30)

    rolled = run(12.0, 2.0)  # 12 px of inner drop against 2 of outer, on a 50-px face
    assert rolled.kp[ll, 1] - rolled.kp[li, 1] >= 0.7 * thickness - 1e-4
    opened = run(6.0, 6.0)
    np.testing.assert_allclose(opened.kp[ll] - opened.kp[li], src.kp[ll] - src.kp[li], atol=0.02 * thickness)
