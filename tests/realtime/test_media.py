"""One place for media names and the plain clip reader."""
import numpy as np

from mimicam.realtime.media import is_image, is_video, video_fps, video_frames, videos_in

from shared_data import DRIVING, need


def test_names():
    assert is_image("a.PNG") and is_image("b.jpeg") and not is_image("c.mp4")
    assert is_video("c.MP4") and is_video("d.webm") and not is_video("e.png")


def test_reader_limit_and_keep_agree():
    clip = need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4")  # 78 frames
    first = list(video_frames(clip, limit=12))
    assert len(first) == 12 and first[0].ndim == 3
    picked = list(video_frames(clip, keep={3, 7, 11}))
    assert len(picked) == 3
    for got, i in zip(picked, (3, 7, 11)):
        assert np.array_equal(got, first[i])
    assert len(list(video_frames(clip))) == 78 and video_fps(clip) == 25.0
    assert clip in videos_in(DRIVING)
