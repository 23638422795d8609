"""Real frames for the provenance tests (first frames of a real driving clip); import the fixture."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared_data import DRIVING


def read_frames(name: str, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DRIVING / name))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    if len(frames) < n:
        pytest.skip(f"{name}: {len(frames)} of {n} frames readable")
    return frames


def transport(img: np.ndarray, q: int = 50, scale: float = 0.5, shift: int = 2) -> np.ndarray:
    """I420 round trip, downscale, shift, JPEG 4:2:0."""
    img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    if scale != 1:
        h, w = img.shape[:2]
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    img = np.roll(img, (shift, shift), axis=(0, 1))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q,
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


@pytest.fixture(scope="session")
def clip30() -> list[np.ndarray]:
    """30 real 512x512 frames."""
    return read_frames("lp_d0_man_greenscreen_expressions.mp4", 30)


@pytest.fixture(scope="session")
def other30() -> list[np.ndarray]:
    """30 frames of another real clip, at the first clip's size (the footage a mark is moved onto)."""
    return [cv2.resize(f, (512, 512), interpolation=cv2.INTER_AREA)
            for f in read_frames("lp_d9_man_glasses_webcam.mp4", 30)]


KEY = b"k" * 32
OTHER_KEY = b"o" * 32
