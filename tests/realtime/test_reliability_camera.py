"""Camera faults: a device that fails, disappears and comes back. Meanwhile a labelled slate is sent,
the process stays mostly idle (no busy loop), reopening backs off, and frames flow again within 2 s of
the device returning."""
from __future__ import annotations

import threading
import time

import pytest

from mimicam.realtime.capture import CaptureThread
from mimicam.realtime.mailbox import Mailbox
from mimicam.realtime.pipeline import Pipeline, PipelineOptions

from reliability_fakes import (RecordingSink, ScriptedCamera, clip_frames, fake_backend,  # noqa: F401
                               has_badge, mimicam_threads, small_portrait_path, wait_until)


def _live(portrait, camera, sink, kinds):
    opts = PipelineOptions(portrait=portrait, driving="0", realtime=True, watermark=False, detector=False)
    return Pipeline(opts, sink=sink, source=camera, on_output=lambda f: kinds.append((time.monotonic(), f.kind)))


def _run_in_thread(pipe):
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(pipe.run()), name="test-runner")
    t.start()
    return t, result


@pytest.mark.parametrize("fault", ["gone", "read_error"])
def test_unplug_slate_idle_backoff_and_recovery(small_portrait_path, clip_frames, fake_backend, fault):
    camera = ScriptedCamera(clip_frames, fps=30)
    sink, kinds = RecordingSink(), []
    with _live(small_portrait_path, camera, sink, kinds) as pipe:
        runner, result = _run_in_thread(pipe)
        assert wait_until(lambda: sum(k == "generated" for _, k in kinds) >= 5, 20)
        camera.state = fault  # unplugged (opens fail too) or busy/erroring (reads fail)
        t_fail, cpu0, n_opens = time.monotonic(), time.process_time(), len(camera.opens)
        time.sleep(3.0)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - t_fail
        opens = camera.opens[n_opens:]
        camera.state = "ok"
        t_back = time.monotonic()
        assert wait_until(lambda: any(t > t_back and k == "generated" for t, k in kinds), 5)
        t_recovered = min(t for t, k in kinds if t > t_back and k == "generated")
        pipe.stop()
        runner.join(10)
    assert not runner.is_alive() and result["frames"] == len(kinds)
    outage = [k for t, k in kinds if t_fail + 0.7 < t < t_back]
    assert outage and set(outage) == {"slate"}, "a labelled slate is sent while the camera is away"
    assert len(outage) >= 3
    assert cpu / wall < 0.25, f"waiting for the camera used {cpu / wall:.0%} of a core (busy loop?)"
    gaps = [b - a for a, b in zip(opens, opens[1:])]
    assert 3 <= len(opens) <= 10, f"{len(opens)} reopen attempts in {wall:.1f} s"
    assert all(b >= a * 0.8 for a, b in zip(gaps, gaps[1:])), f"backoff does not grow: {gaps}"
    assert max(gaps) <= 1.3
    assert t_recovered - t_back < 2.0
    assert all(has_badge(f) for f in sink.frames)
    assert camera.closes >= 1 and not camera.is_open  # released at the end
    assert mimicam_threads() == []


def test_camera_failing_from_the_start_sends_slates(small_portrait_path, clip_frames, fake_backend):
    camera = ScriptedCamera(clip_frames, fps=30)
    sink, kinds = RecordingSink(), []
    with _live(small_portrait_path, camera, sink, kinds) as pipe:
        camera.state = "read_error"  # opened, then never delivers a frame
        runner, _ = _run_in_thread(pipe)
        assert wait_until(lambda: len(kinds) >= 2, 5)
        pipe.stop()
        runner.join(10)
    assert {k for _, k in kinds} == {"slate"} and all(has_badge(f) for f in sink.frames)


def test_capture_thread_survives_a_failed_reopen(clip_frames):
    """The device vanishes and reopening fails: the thread keeps retrying (it never reads a closed
    device and never dies), then delivers again when the device returns."""
    camera = ScriptedCamera(clip_frames, fps=60).open()
    box: Mailbox = Mailbox()
    cap = CaptureThread(camera, box, backoff=(0.05, 0.2)).start()
    try:
        assert box.get(timeout=5) is not None
        camera.state = "gone"
        assert wait_until(lambda: len(camera.opens) >= 4, 5)
        assert cap.error and not cap.ended.is_set()
        camera.state = "ok"
        t0 = time.monotonic()
        while (frame := box.get(timeout=2)) is not None and cap.error:
            pass
        assert frame is not None and time.monotonic() - t0 < 2.0 and cap.error is None
    finally:
        cap.stop()
    assert not box.closed or cap.ended.is_set()
