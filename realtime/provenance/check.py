"""Checking a whole file, folder or camera for the mark: the library side of ``mimicam verify``."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .verifier import MarkResult, MarkVerifier

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
EXIT_VALID, EXIT_NO_MARK, EXIT_INVALID = 0, 3, 4


@dataclass(frozen=True)
class StreamReport:
    """Windows of one input. ``p_value`` is the best window's, multiplied by the number of windows."""

    source: str
    frames: int
    windows: list[MarkResult]
    marked: bool
    mac: str
    p_value: float
    session_id: int | None
    classifier_score: float | None = None

    @property
    def exit_code(self) -> int:
        if not self.marked:
            return EXIT_NO_MARK
        return EXIT_VALID if self.mac == "valid" else EXIT_INVALID

    def to_json(self) -> dict:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read image {path}", "is it a PNG/JPEG file?")
    return image


def iter_frames(source: str | Path | int, limit: int | None = None) -> Iterator[np.ndarray]:
    """Frames (BGR uint8) of an image file, a folder of images (sorted by name), a video, or a camera index."""
    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise InputError(f"cannot open camera {source}", "check the index with `mimicam doctor`")
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path} does not exist")
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"folder {path} holds no image files", f"expected one of {sorted(IMAGE_SUFFIXES)}")
            yield from (_read_image(p) for p in files[:limit])
            return
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield _read_image(path)
            return
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise InputError(f"cannot open {path} as an image or a video")
    n = 0
    try:
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()
    if n == 0:
        raise InputError(f"no frames could be read from {source}")


def verify_stream(frames: Iterator[np.ndarray], key: bytes, window: int = 30,
                  scales: tuple[float, ...] | None = None, source: str = "") -> StreamReport:
    """Verify consecutive non-overlapping windows of ``frames``; a shorter last window is checked too."""
    verifier = MarkVerifier(key, window=window, scales=scales)
    results: list[MarkResult] = []
    count = 0
    for frame in frames:
        if frame.ndim != 3 or min(frame.shape[:2]) < 32:
            raise InputError(f"frame {count} of {source} is {frame.shape}, expected at least 32x32 colour")
        verifier.feed(frame)
        count += 1
        if count % window == 0:
            results.append(verifier.result())
            verifier.reset()
    if count % window:
        results.append(verifier.result())
    if not results:
        raise InputError(f"no frames in {source}")
    best = min(results, key=lambda r: r.p_value)
    p = min(1.0, best.p_value * len(results))
    marked = p <= verifier.alpha
    macs = {r.mac for r in results if r.marked}
    mac = "invalid" if "invalid" in macs else "valid" if "valid" in macs else "absent"
    sid = next((r.session_id for r in results if r.marked and r.mac == mac), None)
    return StreamReport(source, count, results, marked, mac if marked else "absent", p, sid if marked else None)


def safe_p(p: float) -> float:
    """JSON-friendly p-value (no underflow to exactly 0 hidden: the floor is the smallest float)."""
    return max(p, math.ulp(0.0))
