"""Live: after a few seconds without a face, the output says so (and says nothing while a face is there)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mimicam.realtime.notice import NoFaceNotice
from mimicam.realtime.pipeline import Pipeline, PipelineOptions
from shared_data import DRIVING, PORTRAITS, need


def _has_notice(image: np.ndarray) -> bool:
    """White text on a near-black plate in the top-centre band."""
    h, w = image.shape[:2]
    band = image[int(h * 0.03):int(h * 0.03) + max(16, round(h * 0.05)), w // 2 - w // 8: w // 2 + w // 8]
    return float((band < 30).all(-1).mean()) > 0.4 and float((band > 200).all(-1).mean()) > 0.03


def test_notice_appears_after_the_delay_and_goes_with_the_face():
    n = NoFaceNotice(after_s=3.0)
    frames = [np.full((360, 640, 3), 128, np.uint8) for _ in range(4)]
    assert not n.apply(frames[0], False, 0)  # the clock starts with the first frame
    assert not n.apply(frames[1], False, int(2.9e9)) and not _has_notice(frames[1])
    assert n.apply(frames[2], False, int(3.1e9)) and _has_notice(frames[2])
    assert not n.apply(frames[3], True, int(3.2e9)) and not _has_notice(frames[3])
    with pytest.raises(ValueError, match="after_s"):
        NoFaceNotice(after_s=float("nan"))


def test_live_pipeline_says_no_face_after_three_seconds(tmp_path):
    """A camera (a folder of frames replayed at 30 fps) that shows a face for 0.5 s, then an empty room."""
    cap = cv2.VideoCapture(str(need(DRIVING / "lp_d9_man_glasses_webcam.mp4")))
    folder = tmp_path / "cam"
    folder.mkdir()
    for i in range(15 + 120):
        if i < 15:
            ok, im = cap.read()
            im = cv2.resize(im, (320, 240))
        else:
            im = np.full((240, 320, 3), 140, np.uint8)
        cv2.imwrite(str(folder / f"{i:04d}.png"), im)
    cap.release()
    seen: list[tuple[int, bool, str]] = []
    opts = PipelineOptions(portrait=need(PORTRAITS / "lp_s2_man_bw_photo.jpg"), driving=folder, output="null",
                           backend="ort", realtime=True, fps=30.0, detector=False)
    with Pipeline(opts, on_output=lambda o: seen.append((o.source_index, _has_notice(o.image), o.kind))) as pipe:
        pipe.run()
    with_face = [s for s in seen if s[0] < 15]
    late = [s for s in seen if s[0] >= 15 + 3 * 30 + 10]  # 3 s of empty room, and a margin for the clock
    assert with_face and late, seen
    assert not any(s[1] for s in with_face)
    assert all(s[1] for s in late), late
