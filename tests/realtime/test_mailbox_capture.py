import threading
import time

import numpy as np

from mimicam.realtime.capture import CaptureThread, VideoFileSource, open_source, ImageFolderSource
from mimicam.realtime.mailbox import Mailbox
from mimicam.realtime.types import Frame


def test_latest_frame_wins_and_drops_are_counted():
    box: Mailbox[int] = Mailbox()
    for i in range(1, 11):
        box.put(i)
    assert box.get(timeout=0.1) == 10
    assert box.dropped == 9
    assert box.get(timeout=0.05) is None  # nothing new: waits, no spinning, returns None


def test_get_blocks_until_put():
    box: Mailbox[int] = Mailbox()
    threading.Timer(0.05, box.put, args=(7,)).start()
    t = time.perf_counter()
    assert box.get(timeout=2.0) == 7
    assert time.perf_counter() - t >= 0.04


def test_video_file_is_replayed_at_its_own_rate(driving_clip):
    with VideoFileSource(driving_clip) as src:
        assert src.fps == 30.0
        t = time.perf_counter()
        frames = [src.read() for _ in range(15)]
        elapsed = time.perf_counter() - t
    assert all(f is not None and f.shape[2] == 3 for f in frames)
    assert elapsed >= 14 / 30 * 0.95


def test_capture_thread_timestamps_travel_with_frames(driving_clip):
    box: Mailbox[Frame] = Mailbox()
    with VideoFileSource(driving_clip, fps=120) as src:
        cap = CaptureThread(src, box).start()
        got = []
        while len(got) < 10:
            f = box.get(timeout=2)
            assert f is not None
            got.append(f)
        cap.stop()
    assert all(b.index > a.index and b.t_capture_ns > a.t_capture_ns for a, b in zip(got, got[1:]))
    assert time.perf_counter_ns() - got[-1].t_capture_ns < 5e9


def test_image_folder_source(tmp_path, driving_clip):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((80, 80, 3), i * 50, np.uint8))
    src = open_source(tmp_path, paced=False)
    assert isinstance(src, ImageFolderSource)
    with src:
        vals = [int(src.read()[0, 0, 0]) for _ in range(3)]
        assert src.read() is None
    assert vals == [0, 50, 100]
