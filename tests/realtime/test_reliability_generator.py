"""Generator faults (exception, NaN, stall) -> a labelled slate; the badge is always there, the camera
frame never is; errors are counted. A stalled backend cannot freeze the live loop (watchdog)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mimicam.realtime.pipeline import Pipeline, PipelineOptions
from mimicam.realtime.watchdog import Deadline, Stalled

from reliability_fakes import (FakeBackend, ListSource, RecordingSink, ScriptedCamera, clip_frames,  # noqa: F401
                               fake_backend, faulty_ort, has_badge, mimicam_threads, shows_camera,
                               small_portrait_path, wait_until)

FAULTS = {5: "raise", 9: "nan", 10: "nan", 14: "stall"}


def test_faults_become_slates_badged_never_the_camera(small_portrait_path, clip_frames, faulty_ort):
    faulty_ort["schedule"] = FAULTS.get
    frames = clip_frames[:40]
    outs: list = []

    def on_output(f):
        outs.append(f.kind)
        if f.index >= 17:  # the backend comes back after a few frames were answered by slates
            faulty_ort["backend"].release.set()

    sink = RecordingSink()
    opts = PipelineOptions(portrait=small_portrait_path, driving="clip", realtime=False, watermark=True)
    pipe = Pipeline(opts, sink=sink, source=ListSource(frames), on_output=on_output)
    pipe.stall_timeout_s = (1.5, 1.5)  # the real backend takes ~20-80 ms a frame on two busy cores
    with pipe:
        summary = pipe.run()
        stalled_slate = pipe.slate("generator_stall")
        error_slate = pipe.slate("generator_error")
    assert len(sink.frames) == len(frames) == summary["frames"]
    assert [outs[i] for i in (5, 9, 10, 14, 15, 16, 17)] == ["slate"] * 7, (outs, summary["errors"])
    for i, want in ((5, error_slate), (9, error_slate), (14, stalled_slate), (17, stalled_slate)):
        diff = sink.frames[i] != want
        assert not diff.any(), (i, np.argwhere(diff.any(2))[[0, -1]], diff.sum())
    assert summary["errors"]["generator"] == 3  # one exception, two NaN frames
    assert summary["errors"]["generator_stall"] >= 4
    assert outs[-1] == "generated" and outs.count("generated") >= 20  # recovered after the stall
    for i, (img, drv) in enumerate(zip(sink.frames, frames)):
        assert has_badge(img), f"frame {i} ({outs[i]}) has no badge"
        assert not shows_camera(img, drv), f"frame {i} ({outs[i]}) shows camera pixels"


def test_stalled_backend_does_not_freeze_the_live_loop(small_portrait_path, clip_frames, fake_backend):
    backend = fake_backend["backend"] = FakeBackend(128, schedule=lambda i: "stall" if i >= 3 else None)
    camera = ScriptedCamera(clip_frames, fps=30)
    sink, kinds = RecordingSink(), []
    opts = PipelineOptions(portrait=small_portrait_path, driving="0", realtime=True, watermark=False, detector=False)
    pipe = Pipeline(opts, sink=sink, source=camera, on_output=lambda f: kinds.append(f.kind))
    pipe.stall_timeout_s = (0.3, 0.3)
    runner = threading.Thread(target=pipe.run, name="test-runner")
    try:
        with pipe:
            runner.start()
            assert backend.entered.wait(10) and wait_until(lambda: backend.calls >= 4, 10)
            n0 = len(kinds)
            time.sleep(1.5)  # the backend never returns: slates keep flowing at the camera's pace
            during = kinds[n0:]
            assert len(during) >= 10 and set(during) == {"slate"}
            t0 = time.monotonic()
            pipe.stop()
            runner.join(5)
            assert not runner.is_alive() and time.monotonic() - t0 < 2.0
        assert pipe.errors["generator_stall"] >= 10
        assert all(has_badge(f) for f in sink.frames) and sink.closed and camera.closes >= 1
        assert mimicam_threads() == ["mimicam-generator"]  # abandoned, a daemon: it cannot hold the process
    finally:
        backend.release.set()
    assert wait_until(lambda: mimicam_threads() == [], 5)


def test_deadline_unit():
    release = threading.Event()
    with Deadline(0.2) as d:
        assert d.call(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ZeroDivisionError):
            d.call(lambda: 1 / 0)
        with pytest.raises(Stalled, match="within 0.2 s"):
            d.call(release.wait, 10)
        with pytest.raises(Stalled, match="still stalled"):
            d.call(lambda: 1)
        release.set()
        assert wait_until(lambda: not d.busy, 2)
        assert d.call(lambda: "back") == "back" and d.stalls == 1
    with pytest.raises(ValueError):
        Deadline(0)
