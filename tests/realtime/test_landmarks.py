"""The live landmark stage on real driving frames: 478 points per frame, and nothing computed that no
stage reads (no blendshapes, no pose matrix) unless asked for."""
import time

import numpy as np

from mimicam.realtime import landmarks as L
from mimicam.realtime.landmarks import LandmarkStage

from reliability_fakes import read_clip
from shared_data import DRIVING, need


def test_live_stage_gives_points_only_and_extras_on_request():
    frames = read_clip(need(DRIVING / "lp_d9_man_glasses_webcam.mp4"), 5, size=(512, 512))
    t0 = time.perf_counter_ns()
    with LandmarkStage() as stage:
        found = [stage.detect(f, t0 + i * 33_000_000) for i, f in enumerate(frames)]
    assert all(lm is not None for lm in found)
    for lm in found:
        assert lm.points.shape == (478, 3) and lm.image_size == (512, 512)
        assert lm.blendshapes is None and lm.pose is None
    full = L._create(video=False, num_faces=1, extras=True)
    try:
        res = full.detect(L._mp_image(frames[0]))
    finally:
        full.close()
    lm = L._to_landmarks(res, 0, 512, 512)
    assert lm.blendshapes.shape == (52,) and lm.pose.shape == (4, 4)
    assert np.abs(lm.xy - found[0].xy).mean() < 3.0  # the same face, with or without the extras
