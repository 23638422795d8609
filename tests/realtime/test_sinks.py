"""The file sink on real frames: a live file gets each frame's packet as the frame arrives (x264
zerolatency: nothing held back for lookahead), and both presets make a file that decodes to every frame,
in order, at good quality. Encoding runs on the sink's own thread: ``write`` does not wait for x264 (until
the encoder is QUEUE frames behind), and an encoder error reaches the caller without publishing a file."""
import threading
import time

import av
import cv2
import numpy as np
import pytest

from mimicam.realtime.sinks import FileSink, make_sink
from mimicam.realtime.stamp import read_counter, stamp_counter

from reliability_fakes import read_clip
from shared_data import DRIVING, need


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return read_clip(need(DRIVING / "lp_d9_man_glasses_webcam.mp4"), 12, size=(640, 360))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


class _CountingContainer:
    """The sink's PyAV container, with every muxed packet noted."""

    def __init__(self, real, muxed: list) -> None:
        self._real, self._muxed = real, muxed

    def mux(self, packet) -> None:
        self._muxed.append(packet)
        self._real.mux(packet)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _settled(sink: FileSink, timeout: float = 10.0) -> None:
    """Wait until the sink's encoder thread has taken and encoded every frame written so far."""
    end = time.monotonic() + timeout
    while not (sink._todo.empty() and sink._free.qsize() == sink.QUEUE):
        assert time.monotonic() < end, "the encoder thread did not catch up"
        time.sleep(0.005)


@pytest.mark.parametrize("live", [True, False])
def test_file_sink_packets_as_frames_arrive_when_live(tmp_path, frames, live):
    path = tmp_path / "o.mp4"
    sink = make_sink(f"file:{path}", 640, 360, 30, live=live)
    assert isinstance(sink, FileSink) and sink.live is live
    muxed = []
    with sink:
        sink._container = _CountingContainer(sink._container, muxed)
        held = []
        for f in frames:
            sink.write(f)
            _settled(sink)
            held.append(len(muxed))
    if live:
        assert held == list(range(1, len(frames) + 1))  # one packet per frame, at once
    else:
        assert held[0] == 0  # veryfast looks ahead: the first frames are held back
    with av.open(str(path)) as c:
        back = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(back) == len(frames)
    assert min(_psnr(a, b) for a, b in zip(frames, back)) > 33


def test_frames_reach_the_file_in_the_order_written(tmp_path, frames):
    path = tmp_path / "o.mp4"
    with FileSink(640, 360, 30, path, live=True) as sink:
        for i in range(30):
            f = frames[i % len(frames)].copy()
            stamp_counter(f, i)
            sink.write(f)
    with av.open(str(path)) as c:
        assert [read_counter(f.to_ndarray(format="bgr24")) for f in c.decode(video=0)] == list(range(30))


class _SlowStream:
    """The sink's stream, with x264 made slow (``delay`` s a frame) or failing from frame ``fail_at``."""

    def __init__(self, real, delay: float = 0.0, fail_at: int | None = None) -> None:
        self._real, self.delay, self.fail_at, self.n = real, delay, fail_at, 0

    def encode(self, frame=None):
        if frame is not None:
            self.n += 1
            time.sleep(self.delay)
            if self.fail_at is not None and self.n >= self.fail_at:
                raise RuntimeError("injected encoder failure")
        return self._real.encode(frame)

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_write_does_not_wait_for_the_encoder_until_it_is_queue_frames_behind(tmp_path, frames):
    path = tmp_path / "o.mp4"
    with FileSink(640, 360, 30, path, live=True) as sink:
        sink._stream = _SlowStream(sink._stream, delay=0.25)
        t0 = time.perf_counter()
        for f in frames[: sink.QUEUE]:
            sink.write(f)
        quick = time.perf_counter() - t0
        sink.write(frames[sink.QUEUE])                  # the encoder is QUEUE frames behind: this one waits
        waited = time.perf_counter() - t0
    assert quick < 0.2 < waited                        # 4 x 0.25 s of encoding did not hold the caller
    with av.open(str(path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == sink.QUEUE + 1


def test_an_encoder_error_reaches_the_caller_and_publishes_nothing(tmp_path, frames):
    path = tmp_path / "o.mp4"
    sink = FileSink(640, 360, 30, path, live=True).open()
    sink._stream = _SlowStream(sink._stream, fail_at=3)
    with pytest.raises(RuntimeError, match="injected"):
        for f in frames:
            sink.write(f)
            _settled(sink)
    with pytest.raises(RuntimeError, match="injected"):
        sink.close(ok=True)
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name == "mimicam-encoder"]


def test_closing_after_an_error_elsewhere_keeps_that_error(tmp_path, frames):
    """close(ok=False) (the pipeline is already failing): no file, and the encoder's own error, if any,
    is not raised over the caller's."""
    path = tmp_path / "o.mp4"
    sink = FileSink(640, 360, 30, path, live=True).open()
    sink._stream = _SlowStream(sink._stream, fail_at=1)
    sink.write(frames[0])
    _settled(sink)
    sink.close(ok=False)
    assert not path.exists() and list(tmp_path.iterdir()) == []
