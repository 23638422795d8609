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
    with L.ImageFaces(num_faces=1, extras=True) as full:
        lm = full.largest(frames[0])
    assert lm.blendshapes.shape == (52,) and lm.pose.shape == (4, 4)
    assert np.abs(lm.xy - found[0].xy).mean() < 3.0  # the same face, with or without the extras


def test_a_portrait_comes_with_its_pose_and_blendshapes():
    """The portrait check reads yaw, pitch and jawOpen: the portrait's analysis asks for them."""
    from mimicam.realtime.imageio import load_image
    from shared_data import PORTRAITS

    face = L.find_portrait_face(load_image(need(PORTRAITS / "skimage_astronaut_eileen_collins.png")))
    assert face.landmarks.pose.shape == (4, 4) and face.landmarks.blendshapes.shape == (52,)


def test_stderr_is_only_redirected_from_the_main_thread():
    import os
    import sys
    import threading

    fd = sys.stderr.fileno()
    before = os.fstat(fd).st_ino
    seen = {}

    def worker():
        with L.quiet_native_stderr():
            seen["inside"] = os.fstat(fd).st_ino

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["inside"] == before  # untouched from another thread
    with L.quiet_native_stderr():
        assert os.fstat(fd).st_ino != before or os.path.samefile(f"/proc/self/fd/{fd}", os.devnull)
    assert os.fstat(fd).st_ino == before


def test_a_portrait_on_the_live_canvas_gets_the_same_lips_as_on_its_own():
    """The live output is a 1280x720 canvas with the portrait fitted in it. Measured on the whole canvas,
    MediaPipe put the demo portrait's inner lips about 4 crop pixels low (the upper one on her teeth), and the
    mouth was painted there; the face is now measured again on a crop around it. In the generator's crop
    coordinates, the inner lips agree within 1.5 crop pixels with those found at the portrait's own size."""
    from mimicam.engines.layout import KP_INDEX
    from mimicam.realtime.assets import demo_portrait_path
    from mimicam.realtime.portrait import prepare_portrait

    own = prepare_portrait(demo_portrait_path(), 256)
    live = prepare_portrait(demo_portrait_path(), 256, size=(1280, 720))
    for name in ("upper_inner_lip", "lower_inner_lip", "r_upper_lid", "l_upper_lid"):
        i = KP_INDEX[name]
        shift = (live.motion.kp[i] - own.motion.kp[i]) * 128  # crop-normalised -> pixels of the 256-px crop
        assert np.abs(shift).max() < 1.5, (name, shift)
