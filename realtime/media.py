"""Media files: which names are images and videos, and reading a video's frames in order.

One place for the file extensions and for the plain "decode a clip" loop that capture, evaluation,
training and verification all need (the paced live reader is ``capture.VideoFileSource``)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi"})


def is_image(path: Path | str) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def is_video(path: Path | str) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


def videos_in(folder: Path | str) -> list[Path]:
    """The video files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if is_video(p))


def video_frames(path: Path | str, limit: int | None = None, keep: set[int] | None = None) -> Iterator[np.ndarray]:
    """BGR frames of a video, in order: the first ``limit``, or only those whose index is in ``keep``
    (decoding stops after the last of them; the others are skipped without being converted)."""
    cap = cv2.VideoCapture(str(path))
    last = max(keep) if keep else None
    try:
        i = 0
        while (limit is None or i < limit) and (last is None or i <= last):
            if keep is not None and i not in keep:
                if not cap.grab():
                    return
            else:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
            i += 1
    finally:
        cap.release()


def video_fps(path: Path | str, default: float = 30.0) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    return float(fps) if fps and 1 <= fps <= 240 else default
