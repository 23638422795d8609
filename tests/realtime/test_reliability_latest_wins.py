"""Latest frame wins (WebRTC DropsPendingFramesOnSlowEncode, GStreamer test_leaky_downstream): with the
generator blocked, frames 1..K are pushed; once unblocked the next processed frame is K, K-2 are counted
as dropped, and memory stays flat (one pending frame is kept, never a queue)."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

from mimicam.realtime.capture import CaptureSource
from mimicam.realtime.pipeline import Pipeline, PipelineOptions

from reliability_fakes import (FakeBackend, RecordingSink, clip_frames, fake_backend,  # noqa: F401
                                mimicam_threads, small_portrait_path, wait_until)

K = 300


class PushSource(CaptureSource):
    """Frame 1 at once; frames 2..K as fast as possible once the generator holds frame 1; then waits."""

    live = True

    def __init__(self, base: np.ndarray, in_generator: threading.Event) -> None:
        self.base, self.in_generator = base, in_generator
        self.pushed_all, self.finish = threading.Event(), threading.Event()
        self.n = 0

    def read(self):
        if self.n == 1:
            self.in_generator.wait(30)
        if self.n == K:
            self.pushed_all.set()
            self.finish.wait(30)
            return None
        self.n += 1
        return self.base.copy()  # a fresh 640x480 array per frame, as a camera driver gives


@pytest.mark.parametrize("overlap", [False, True], ids=["serial", "overlap"])
def test_next_frame_after_a_blocked_generator_is_the_newest(small_portrait_path, clip_frames, fake_backend, overlap):
    """Serial: exactly frame K. Overlapped (landmarks on their own thread, which keeps taking the newest
    captured frame while the generator is blocked): the frames shown are in capture order, none twice, the
    last one is frame K, and every frame never shown is counted as dropped, once. Which frame comes right after
    the stall is the one whose landmarks were found last: with a camera's pacing the newest or the one before,
    with this unpaced burst any of them."""
    backend = fake_backend["backend"] = FakeBackend(128, schedule=lambda i: "stall" if i == 0 else None)
    base = np.ascontiguousarray(np.tile(clip_frames[0], (2, 2, 1))[:480, :640])
    source = PushSource(base, backend.entered)
    seen: list[int] = []
    sink = RecordingSink(keep=False)
    opts = PipelineOptions(portrait=small_portrait_path, driving="0", realtime=True, watermark=False, detector=False,
                           overlap=overlap)
    pipe = Pipeline(opts, on_output=lambda f: seen.append(f.source_index), sink=sink, source=source)
    pipe.stall_timeout_s = (60.0, 60.0)  # this test blocks the generator on purpose
    result: dict = {}
    with pipe:
        runner = threading.Thread(target=lambda: result.update(pipe.run()), name="test-runner")
        runner.start()
        assert backend.entered.wait(30), "frame 1 never reached the generator"
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        assert source.pushed_all.wait(30)
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        backend.release.set()
        assert wait_until(lambda: len(seen) >= 2, 10)
        source.finish.set()
        runner.join(10)
    assert not runner.is_alive()
    if overlap:
        assert seen[0] == 0 and seen == sorted(set(seen)) and seen[-1] == K - 1
        assert result["dropped"]["capture"] == K - len(seen)  # every frame never shown is counted, once
    else:
        assert seen[:2] == [0, K - 1]  # frame 1 (index 0) then frame K (index K-1): nothing in between
        assert result["dropped"]["capture"] == K - 2
    # flat: a fixed number of frames in flight, whatever K. Overlapped, the landmark thread also holds the frame
    # it works on and MediaPipe's copy of it, and the outbox one more
    frame_bytes = base.nbytes
    peak_frames, after_frames = (8, 4) if overlap else (4, 2)
    assert peak - before < peak_frames * frame_bytes, f"{(peak - before) / 1e6:.1f} MB held for {K} pushed frames"
    assert after - before < after_frames * frame_bytes
    assert mimicam_threads() == []
