"""Neutral calibration on a real driver who starts mid-speech (lp_d10, from a frame with the mouth open)."""
import cv2
import numpy as np
import pytest

from mimicam.engines.layout import KP_INDEX
from mimicam.engines.template import face_template
from mimicam.realtime.motion import CropBox, KeypointFitter, MotionTransfer
from mimicam.realtime.neutral import NeutralScore
from mimicam.realtime.types import Landmarks, Motion
from shared_data import DRIVING, need

START, FPS = 24, 30.0  # lp_d10 frame 24: mid-word, inner lips 0.24 face units apart
UI, LI = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]


@pytest.fixture(scope="module")
def mid_speech() -> list[Landmarks]:
    """MediaPipe landmarks of 2.2 s of lp_d10, starting mid-word."""
    from mimicam.realtime.landmarks import LandmarkStage

    cap = cv2.VideoCapture(str(need(DRIVING / "lp_d10_woman_blink_talk.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, START)
    out = []
    with LandmarkStage() as stage:
        for i in range(66):
            ok, frame = cap.read()
            assert ok
            lm = stage.detect(frame, int(i / FPS * 1e9))
            assert lm is not None
            out.append(lm)
    cap.release()
    return out


def _source() -> Motion:
    kp, jac = KeypointFitter().fit(face_template() * 100 + 256)
    box = CropBox.around(kp[0], jac[0])
    return Motion(box.to_norm(kp), box.jac_to_norm(jac))


def _gaps(lms: list[Landmarks]) -> np.ndarray:
    f, ns = KeypointFitter(), NeutralScore()
    out = []
    for lm in lms:
        kp, jac = f.fit(lm.xy)
        out.append(ns.parts(lm.xy, kp[0], jac[0])[0])
    return np.array(out)


def _lip_gap(m: Motion) -> float:
    """Signed: negative when the lower lip is driven above the upper one (lips folded through each other)."""
    return float(m.kp[LI, 1] - m.kp[UI, 1])


def test_the_neutral_frame_is_chosen_from_a_mid_speech_start(mid_speech):
    gaps = _gaps(mid_speech)
    assert gaps[0] > 0.2 and gaps.min() < 0.05  # the clip starts mid-word, and closes the mouth within 2 s
    closed = int(np.argmin(gaps))
    src = _source()
    rest = _lip_gap(src)
    results, heads = {}, {}
    for mode in ("first", "neutral"):
        mt = MotionTransfer(src, calibrate=mode, min_cutoff=1e6)  # no smoothing
        for i, lm in enumerate(mid_speech):
            mt.update(lm, i / FPS)
        assert mt.settled
        t = len(mid_speech) / FPS
        # the same two driver frames again, after calibration: mouth closed, and the open start
        m_closed = mt.update(mid_speech[closed], t)
        at_open = _lip_gap(mt.update(mid_speech[0], t + 1 / FPS))
        results[mode] = (_lip_gap(m_closed), at_open)
        heads[mode] = (m_closed.kp[0], m_closed.jac[0])
    closed_n, open_n = results["neutral"]
    # neutral: a closed driver mouth is the portrait's mouth at rest; the open start opens it
    assert abs(closed_n - rest) < 0.1 * rest
    assert open_n > rest * 1.5
    # first: the reference was the open mouth, so the closed mouth folds the portrait's lips through each
    # other and the open start is the portrait at rest (the bug this mode fixes)
    closed_f, open_f = results["first"]
    assert closed_f < 0 and abs(open_f - rest) < 0.1 * rest
    # the head pose keeps the first frame as its reference: no step in the head's motion when the
    # expression reference changes
    np.testing.assert_allclose(heads["neutral"][0], heads["first"][0], atol=1e-5)
    np.testing.assert_allclose(heads["neutral"][1], heads["first"][1], atol=1e-5)


def test_neutral_score_prefers_closed_mouth_open_eyes_frontal():
    t = face_template().astype(np.float64) * 100 + 300
    f, ns = KeypointFitter(), NeutralScore()

    def score(xy):
        kp, jac = f.fit(xy)
        return ns.score(xy, kp[0], jac[0])

    base = score(t)
    mouth = t.copy()
    mouth[14, 1] += 20  # lower inner lip down: mouth open
    eyes = t.copy()
    eyes[[145, 374], 1] -= 8  # lower lids up to the upper ones: eyes closed
    turned = t.copy()
    turned[1, 0] += 15  # nose tip to the side: head turned
    assert score(mouth) > base + 0.1 and score(eyes) > base + 0.1 and score(turned) > base + 0.1


def test_unknown_calibration_is_rejected():
    with pytest.raises(ValueError, match="neutral, first, steady"):
        MotionTransfer(_source(), calibrate="middle")
