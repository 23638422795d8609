"""Presenter mode end to end through its file output: the bundled demo clip replayed as the camera,
the view decoded back and every panel checked frame by frame; the hotkeys' actions; "verify the last
10 s" on real output frames, marked and unmarked."""
import cv2
import numpy as np
import pytest

from mimicam.realtime.assets import demo_driving_path, demo_portrait_path
from mimicam.realtime.finish import BADGE_MARK_OFF, Finisher
from mimicam.realtime.pipeline import PipelineOptions
from mimicam.realtime.present import Presenter, PresentOptions, VerifyBuffer
from mimicam.realtime.present_layout import VERIFY_MEANING
from mimicam.realtime.provenance.keys import load_or_create_key
from mimicam.realtime.provenance.watermark import Watermarker

from present_checks import badge_score, has_line as exact_line, lamp_state, panel, panel_matches, spark_pixels

FRAMES = 150


def has_line(*args, **kw):
    """Text as the layout draws it, read back from H.264 (a little softer than the canvas)."""
    return exact_line(*args, thresh=0.9, **kw)


def _decode(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


@pytest.fixture(scope="module")
def presented(tmp_path_factory):
    """150 frames of `present --video demo --output file:...`, with w (mark off) at 90 and v at 60."""
    out = tmp_path_factory.mktemp("present") / "view.mp4"
    opts = PresentOptions(PipelineOptions(portrait=demo_portrait_path(), driving=demo_driving_path(), backend="ort",
                                          realtime=True, max_frames=FRAMES), output=f"file:{out}")
    avatars, drivers, states = [], [], []
    with Presenter(opts) as pres:
        inner = pres.on_output

        def on_output(frame):
            if frame.index == 60:
                pres.handle("verify")
            if frame.index == 90:
                assert pres.handle("mark") is None and pres.handle("next") == "next"   # pipeline keys pass
            inner(frame)
            avatars.append(frame.image.copy())
            drivers.append(pres.driver.copy())
            states.append(pres.last_state)
        pres.pipeline.on_output = on_output
        summary = pres.run()
    return pres, _decode(out), avatars, drivers, states, summary


def test_file_view_has_every_panel_on_every_frame(presented):
    pres, views, avatars, drivers, states, summary = presented
    assert len(views) == len(avatars) == FRAMES and summary["view_latency_ms"]["p50"] > 0
    c = pres.canvas
    for i in (0, 30, 100, FRAMES - 1):
        v = views[i]
        assert panel_matches(panel(v, c, "driver"), drivers[i], c) > 0.9, i
        assert panel_matches(panel(v, c, "avatar"), avatars[i], c) > 0.9, i
        assert panel_matches(panel(v, c, "avatar"), drivers[i], c) < 0.5, i        # the avatar is not the driver
        assert has_line(panel(v, c, "provenance"), f"badge: {states[i].badge_text}", c.px), i
        assert has_line(panel(v, c, "footer"), "q quit", int(c.layout.footer_h * 0.55), (160, 160, 160), (28, 28, 28))
    assert spark_pixels(views[-1], c) > 300


def test_verdict_panel_updates_from_the_detector(presented):
    pres, views, avatars, drivers, states, _ = presented
    lamps = [lamp_state(v, pres.canvas) for v in views]
    assert lamps[0] == "none" and states[0].mac == "none"
    first_valid = lamps.index("valid")                       # the detector thread verified the mark
    assert 0 < first_valid < 90 and states[first_valid].mac == "valid"
    s = states[first_valid + 2]
    assert s.p_value is not None and s.p_value < 1e-6
    assert has_line(panel(views[first_valid + 2], pres.canvas, "provenance"),
                    f"detector: VALID (this key)  p={s.p_value:.2g}", pres.canvas.px)


def test_mark_off_hotkey_relabels_every_frame_and_verify_reports(presented):
    pres, views, avatars, drivers, states, _ = presented
    for i in range(FRAMES):       # every frame badged; the badge says when the mark is off
        texts = [BADGE_MARK_OFF] if i > 90 else ["SYNTHETIC", "SYNTHETIC - verified"]   # w pressed after 90
        assert max(badge_score(avatars[i], t) for t in texts) > 0.95, i
    assert has_line(panel(views[-1], pres.canvas, "provenance"), "mark: OFF (demo)", pres.canvas.px, (120, 120, 255))
    # "verify the last 10 s" pressed before frame 60 was drawn: frames 0-59 are buffered, all marked
    assert pres.verify_code == 0
    assert pres.verify_line == f"verify 60 frames: exit 0 - {VERIFY_MEANING[0]}"
    shown = [i for i, v in enumerate(views) if has_line(panel(v, pres.canvas, "provenance"), pres.verify_line,
                                                         pres.canvas.px)]
    assert shown and shown[-1] == FRAMES - 1 and shown[0] > 60


def test_verify_buffer_on_real_frames_marked_and_not(tmp_path):
    portrait = cv2.imread(str(demo_portrait_path()))
    portrait = cv2.resize(portrait, (1280, 720))          # a standard canvas: the buffer keeps it at 640 px
    key = load_or_create_key()
    results = {}
    for mark_on in (True, False):
        wm = Watermarker(key).open()
        with Finisher((1280, 720), wm.embed) as fin:
            fin.mark_on = mark_on
            buf = VerifyBuffer(fps=30, shape=(720, 1280), seconds=2)
            for i in range(75):                         # more than the ring holds: the oldest are dropped
                out, kind, _, _ = fin.finish(portrait.copy(), "generated", i)
                buf.add(out)
        wm.close()
        assert buf.ring.shape == (60, 360, 640) and buf.count == 75 and buf.scale == 0.5
        assert np.array_equal(buf.snapshot()[-1], cv2.resize(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), (640, 360),
                                                              interpolation=cv2.INTER_AREA))
        pres = Presenter.__new__(Presenter)             # only the verifier part, on this buffer
        pres.buffer, pres._verify_thread = buf, None
        pres.verify_recent()
        pres._verify_thread.join(60)
        results[mark_on] = pres.verify_code
    assert results == {True: 0, False: 3}


def test_default_driver_view_keeps_a_camera_face_private():
    def opts(driving, output):
        return PresentOptions(PipelineOptions(portrait="p.png", driving=driving), output=output)
    assert opts(0, "window").initial_driver_mode() == "show"
    assert opts(0, "vcam").initial_driver_mode() == "hide"
    assert opts(0, "file:x.mp4").initial_driver_mode() == "hide"
    assert opts("clip.mp4", "file:x.mp4").initial_driver_mode() == "show"
    with pytest.raises(Exception, match="driver view"):
        PresentOptions(PipelineOptions(portrait="p.png", driving=0), driver_mode="pixelate")


def test_loop_starts_a_rehearsal_video_over():
    from mimicam.realtime.capture import VideoFileSource
    from mimicam.realtime.present import _DriverTap

    src = VideoFileSource(demo_driving_path(), paced=False)
    with _DriverTap(src, loop=True) as tap:
        frames = [tap.read() for _ in range(src.frame_count + 5)]
    assert all(f is not None for f in frames) and np.array_equal(frames[src.frame_count], frames[0])
    with _DriverTap(VideoFileSource(demo_driving_path(), paced=False)) as tap:
        assert [tap.read() is None for _ in range(src.frame_count + 1)][-1]
