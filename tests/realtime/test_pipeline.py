"""End to end on real clips and portraits from ../shared/data (offline, null/file/vcam sinks)."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mimicam.realtime.badge import Badge, make_slate
from mimicam.realtime.errors import InputError, NoFaceError
from mimicam.realtime.pipeline import Pipeline, PipelineOptions
from mimicam.realtime.portrait import prepare_portrait
from mimicam.realtime.sinks import VirtualCameraSink, display_available, make_sink

from shared_data import DRIVING, PORTRAITS, need


def _badge_score(frame: np.ndarray, badge_ref: np.ndarray) -> float:
    """Normalised correlation between the frame's bottom-left corner and a clean badge rendering."""
    h, w = badge_ref.shape[:2]
    res = cv2.matchTemplate(frame[-h * 3:, : w * 2], badge_ref, cv2.TM_CCOEFF_NORMED)
    return float(res.max())


def _clean_badge(w: int, h: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    Badge().draw(img)
    ys, xs = np.nonzero(img.any(2))
    return img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def test_badge_readable_after_360p_jpeg_q30(portrait_path):
    img = cv2.imread(str(portrait_path))
    Badge().draw(img)
    small = cv2.resize(img, (360 * img.shape[1] // img.shape[0], 360), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 30])
    back = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    ref = _clean_badge(small.shape[1], small.shape[0])
    assert _badge_score(back, ref) > 0.8
    assert _badge_score(cv2.resize(cv2.imread(str(portrait_path)), small.shape[1::-1]), ref) < 0.5


def test_render_every_frame_badged_none_leaked(tmp_path, portrait_path):
    clip = need(DRIVING / "lp_d12_man_talking_headmove.mp4")
    driving = []
    cap = cv2.VideoCapture(str(clip))
    for _ in range(40):
        driving.append(cv2.resize(cap.read()[1], (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32))
    outputs = []
    opts = PipelineOptions(portrait=portrait_path, driving=clip, output=f"file:{tmp_path / 'o.mp4'}", backend="ort",
                           realtime=False, max_frames=40, watermark=False)
    with Pipeline(opts, on_output=lambda f: outputs.append((f.source_index, f.kind, f.image.copy()))) as pipe:
        summary = pipe.run()
    assert summary["frames"] == 40 and [o[0] for o in outputs] == list(range(40))
    ref = _clean_badge(outputs[0][2].shape[1], outputs[0][2].shape[0])
    portrait = cv2.imread(str(portrait_path))
    portrait = cv2.resize(portrait, outputs[0][2].shape[1::-1], interpolation=cv2.INTER_AREA)  # as rendered (720 px)
    moved = 0
    for (_, kind, img), drv in zip(outputs, driving):
        assert kind == "generated"
        assert _badge_score(img, ref) > 0.9
        small = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        assert np.abs(small - drv).mean() > 30  # the driving frame never reaches the output
        moved += np.abs(img.astype(int) - portrait[: img.shape[0], : img.shape[1]]).mean() > 0.5
    assert moved > 20  # the portrait is animated
    back = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(back.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert {"landmarks", "generator", "sink"} <= set(summary["stages"])


def test_render_does_not_depend_on_the_machines_speed(portrait_path):
    """Offline, landmarks and motion filtering follow the video's clock: a run slowed down (as on a
    loaded machine) renders exactly the frames of an unhindered run."""
    clip = need(DRIVING / "lp_d12_man_talking_headmove.mp4")

    def render(delay_s: float) -> list[np.ndarray]:
        import time

        frames = []

        def keep(f):
            frames.append(f.image.copy())
            time.sleep(delay_s)

        opts = PipelineOptions(portrait=portrait_path, driving=clip, backend="ort", realtime=False, max_frames=25,
                               watermark=False, detector=False)
        with Pipeline(opts, on_output=keep) as pipe:
            pipe.run()
        return frames

    fast, slow = render(0.0), render(0.08)  # the slow run takes 2.4x the clip's own duration
    assert len(fast) == len(slow) == 25
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow))
    assert np.abs(fast[-1].astype(int) - fast[0]).mean() > 0.5  # and the portrait did move


def test_group_photo_largest_face_found_with_a_note():
    p = prepare_portrait(need(PORTRAITS / "insightface_t1_group6.jpg"), 256)
    assert p.note and "faces found" in p.note
    x0, y0, x1, y1 = p.landmarks.box()
    assert (x1 - x0) > 20 and (y1 - y0) > 20


def test_faceless_portrait_names_the_file(tmp_path):
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.full((300, 300, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="wall.png"):
        prepare_portrait(path, 256)


def test_unreadable_and_tiny_images(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="bad.jpg"):
        prepare_portrait(bad, 256)
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(InputError, match="only 20x20"):
        prepare_portrait(tiny, 256)


def test_slate_is_labelled():
    s = make_slate(640, 480, "camera unavailable")
    assert _badge_score(s, _clean_badge(640, 480)) > 0.9


class _FakeCam:
    """A pyvirtualcam backend: what a v4l2loopback/OBS device would receive."""
    frames: list = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height = width, height
        _FakeCam.frames = []

    def device(self):
        return "fake-vcam"

    def native_fourcc(self):
        return None

    def send(self, frame):
        _FakeCam.frames.append(frame.copy())

    def close(self):
        pass


def test_virtual_camera_sink_through_the_pyvirtualcam_backend_interface(portrait_path):
    import pyvirtualcam

    pyvirtualcam.register_backend("mimicam-test", _FakeCam)
    img = cv2.imread(str(portrait_path))
    with VirtualCameraSink(img.shape[1], img.shape[0], 30, backend="mimicam-test") as sink:
        sink.write(img)
        sink.write(img)
    assert len(_FakeCam.frames) == 2
    sent = _FakeCam.frames[0].reshape(img.shape)  # the device gets the raw frame, row-major BGR
    assert np.array_equal(sent, img)


def test_no_virtual_camera_driver_says_how_to_install():
    from mimicam.realtime.errors import VirtualCameraError
    import glob

    if glob.glob("/dev/video*"):
        pytest.skip("a video device exists here")
    with pytest.raises(VirtualCameraError, match="v4l2loopback|OBS"):
        VirtualCameraSink(640, 480, 30, backend="v4l2loopback").open()


@pytest.mark.skipif(display_available(), reason="a display exists here")
def test_window_without_display_is_a_clear_error():
    from mimicam.realtime.errors import DisplayError

    with pytest.raises(DisplayError, match="no display"):
        make_sink("window", 640, 480, 30).open()


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mimicam.tools.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_render_errors_are_one_line_and_leave_no_file(tmp_path, driving_clip):
    out = tmp_path / "o.mp4"
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 90, np.uint8))
    r = _cli("render", "--source", str(wall), "--driving", str(driving_clip), "--out", str(out))
    assert r.returncode == 2 and "no face found in" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".mimicam-*"))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    r = _cli("render", "--source", str(PORTRAITS / "avatarify_obama.jpg"), "--driving", str(empty), "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "video" in r.stderr
    assert not out.exists()


def test_cli_render_json_stats(tmp_path):
    clip = need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4")
    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    r = _cli("render", "--source", str(PORTRAITS / "lp_s2_man_bw_photo.jpg"), "--driving", str(clip),
             "--out", str(out), "--json", str(stats), "--backend", "ort")
    assert r.returncode == 0, r.stderr
    import json

    s = json.loads(stats.read_text())
    assert s["schema"] == "mimicam.stats/2" and s["mode"] == "offline" and "capture_to_sink_ms" not in s
    assert s["frames"] == 78 and {"p50", "p95", "p99"} <= set(s["processing_ms"]) and s["stages"]
    # processing time per frame: positive, and what the stages add up to (reading the frame included)
    assert s["processing_ms"]["p50"] > 0 and s["processing_ms"]["max"] >= s["processing_ms"]["p50"]
    assert abs(s["stage_sum_mean_ms"] - s["processing_ms"]["mean"]) < 0.1 * s["processing_ms"]["mean"]
    # speed as a multiple of real time: video seconds / processing seconds
    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    assert s["media_fps"] == pytest.approx(fps)
    assert s["speed_x_realtime"] == pytest.approx(s["fps"] / fps, rel=0.05)
    assert "x real time" in r.stdout and "processing time per frame ms" in r.stdout and "-" not in r.stdout.split(
        "processing time per frame ms:")[1].split("\n")[0]
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 78


def test_trt_without_gpu_is_said_before_the_camera_is_touched(portrait_path):
    from mimicam.engines.runtime_trt import TrtBackend

    if TrtBackend.unavailable_reason() is None:
        pytest.skip("TensorRT can run here")
    r = _cli("live", "--source", str(portrait_path), "--backend", "trt", "--camera", "7", "--output", "null")
    assert r.returncode == 2 and "trt backend cannot run here" in r.stderr and "camera" not in r.stderr.lower()
    assert "Traceback" not in r.stderr
