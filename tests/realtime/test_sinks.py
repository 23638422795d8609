"""The file sink on real frames: a live file gets each frame's packet as the frame arrives (x264
zerolatency: nothing held back for lookahead), and both presets make a file that decodes to every frame
at good quality."""
import av
import cv2
import numpy as np
import pytest

from mimicam.realtime.sinks import FileSink, make_sink

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
            held.append(len(muxed))
    if live:
        assert held == list(range(1, len(frames) + 1))  # one packet per frame, at once
    else:
        assert held[0] == 0  # veryfast looks ahead: the first frames are held back
    with av.open(str(path)) as c:
        back = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(back) == len(frames)
    assert min(_psnr(a, b) for a, b in zip(frames, back)) > 33
