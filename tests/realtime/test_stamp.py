"""Counter stamps: exact round trip, rejection of unstamped pixels, and survival of a real lossy
mp4 encode + decode (4:2:0) of a real driving clip."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from mimicam.realtime.stamp import HEIGHT, MAX_VALUE, WIDTH, read_counter, stamp_counter

CLIP = Path("/work/shared/data/driving/lp_d9_man_glasses_webcam.mp4")


def _frames(n):
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < n:
        ok, im = cap.read()
        if not ok:
            break
        frames.append(im)
    cap.release()
    if len(frames) < n:
        pytest.skip(f"cannot read {n} frames of {CLIP}")
    return frames


@pytest.mark.parametrize("value", [0, 1, 255, 256, 65_537, 1_234_567, MAX_VALUE])
def test_round_trip(value):
    im = _frames(1)[0].copy()
    stamp_counter(im, value)
    assert read_counter(im) == value


def test_unstamped_and_corrupted_read_none():
    frames = _frames(30)
    assert all(read_counter(f) is None for f in frames)
    im = frames[0].copy()
    stamp_counter(im, 4242)
    im[:HEIGHT, 16:24] = 255 - im[:HEIGHT, 16:24]   # flip one column of bit pairs: CRC fails
    assert read_counter(im) is None


def test_only_the_corner_changes():
    im = _frames(1)[0].copy()
    ref = im.copy()
    stamp_counter(im, 99)
    assert np.array_equal(im[HEIGHT:], ref[HEIGHT:]) and np.array_equal(im[:, WIDTH:], ref[:, WIDTH:])


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="value"):
        stamp_counter(np.zeros((64, 256, 3), np.uint8), MAX_VALUE + 1)
    with pytest.raises(ValueError, match="at least"):
        read_counter(np.zeros((16, 256, 3), np.uint8))


def _encode_decode(frames, path, writer):
    h, w = frames[0].shape[:2]
    if writer == "cv2-mp4v":
        out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
        assert out.isOpened()
        for f in frames:
            out.write(f)
        out.release()
    else:
        av = pytest.importorskip("av")
        with av.open(str(path), "w") as box:
            st = box.add_stream("libx264", rate=30)
            st.width, st.height, st.pix_fmt = w, h, "yuv420p"
            st.options = {"crf": "30", "preset": "veryfast"}
            for f in frames:
                box.mux(st.encode(av.VideoFrame.from_ndarray(f, format="bgr24")))
            box.mux(st.encode())
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, im = cap.read()
        if not ok:
            break
        decoded.append(im)
    return decoded


@pytest.mark.parametrize("writer", ["cv2-mp4v", "pyav-h264-crf30"])
def test_survives_lossy_encode(tmp_path, writer):
    frames = [f.copy() for f in _frames(40)]
    values = [1000 + 37 * i for i in range(len(frames))]
    for f, v in zip(frames, values):
        stamp_counter(f, v)
    decoded = _encode_decode(frames, tmp_path / "stamped.mp4", writer)
    assert len(decoded) == len(frames)
    assert [read_counter(d) for d in decoded] == values
