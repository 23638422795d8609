"""Shutdown: Ctrl-C (a real SIGINT), stop() and closing the preview end every mimicam thread, release
the camera and the output, and leave a finalised video file that plays (decoded with PyAV)."""
from __future__ import annotations

import os
import signal
import threading

import av
import pytest

from mimicam.realtime.pipeline import Pipeline, PipelineOptions
from mimicam.realtime.sinks import VirtualCameraSink

from reliability_fakes import (RecordingSink, ScriptedCamera, clip_frames, fake_backend,  # noqa: F401
                               has_badge, mimicam_threads, small_portrait_path, wait_until)


def _decode(path) -> list:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _opts(portrait, **kw):
    kw.setdefault("size", (320, 320))  # the portrait's own size: small frames keep the test quick
    return PipelineOptions(portrait=portrait, driving="0", realtime=True, watermark=False, detector=False, **kw)


def test_ctrl_c_finalises_a_playable_file_and_ends_threads(tmp_path, small_portrait_path, clip_frames, fake_backend):
    out = tmp_path / "live.mp4"
    camera = ScriptedCamera(clip_frames, fps=30)

    def on_output(f):
        if f.index == 20:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does

    with pytest.raises(KeyboardInterrupt):
        with Pipeline(_opts(small_portrait_path, output=f"file:{out}"), source=camera, on_output=on_output) as pipe:
            pipe.run()
    assert wait_until(lambda: mimicam_threads() == [], 3), mimicam_threads()
    assert camera.closes >= 1 and not camera.is_open and fake_backend["backend"].closed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]  # finalised, no temporary left
    frames = _decode(out)
    assert len(frames) >= 20 and frames[0].shape == (320, 320, 3)  # it plays, every frame up to Ctrl-C


def test_stop_from_another_thread(tmp_path, small_portrait_path, clip_frames, fake_backend):
    out = tmp_path / "stopped.mp4"
    camera = ScriptedCamera(clip_frames, fps=30)
    with Pipeline(_opts(small_portrait_path, output=f"file:{out}"), source=camera) as pipe:
        threading.Timer(1.0, pipe.stop).start()
        summary = pipe.run()
    assert summary["frames"] > 5 and wait_until(lambda: mimicam_threads() == [], 3)
    assert not camera.is_open and len(_decode(out)) == summary["frames"]


def test_closing_the_preview_releases_camera_and_virtual_camera(small_portrait_path, clip_frames, fake_backend):
    camera = ScriptedCamera(clip_frames, fps=30)
    preview = RecordingSink(quit_after=10)  # the window's close button / q key
    with Pipeline(_opts(small_portrait_path), source=camera, sink=preview) as pipe:
        pipe.run()
    assert preview.closed and preview.count == 10 and not camera.is_open
    assert wait_until(lambda: mimicam_threads() == [], 3)

    class FakeCam:
        def __init__(self, **kw):
            self.device, self.sent, self.closed = "/dev/video9", 0, False

        def send(self, image):
            self.sent += 1

        def close(self):
            self.closed = True

    cams = []
    vcam = VirtualCameraSink(320, 320, 30, camera_factory=lambda **kw: cams.append(FakeCam(**kw)) or cams[-1])
    camera = ScriptedCamera(clip_frames, fps=30)
    with pytest.raises(KeyboardInterrupt):
        with Pipeline(_opts(small_portrait_path), source=camera, sink=vcam,
                      on_output=lambda f: f.index == 5 and os.kill(os.getpid(), signal.SIGINT)) as pipe:
            pipe.run()
    assert cams[0].closed and cams[0].sent >= 5 and not camera.is_open
    assert wait_until(lambda: mimicam_threads() == [], 3)
