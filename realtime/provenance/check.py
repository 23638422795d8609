"""Checking a whole file, folder or camera for the mark: the library side of ``mimicam verify``."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..media import IMAGE_EXTS, is_image
from ..errors import InputError
from .verifier import MarkResult, MarkVerifier

EXIT_VALID, EXIT_NO_MARK, EXIT_NOT_BOUND, EXIT_DAMAGED, EXIT_ANONYMOUS = 0, 3, 4, 5, 6
# what each verdict says; never "real", and "SYNTHETIC" only where the mark is bound to this content
SAYS = {
    "valid": "SYNTHETIC: made by this mimicam install (the mark opens under your key and is bound to this content)",
    "unbound": "mimicam mark present but NOT bound to this content: made with your key for other footage "
               "(transplanted or copied); it says nothing about this content",
    "foreign": "mimicam mark present, but it does not open under your key(s): another install's key, or forged; "
               "it cannot be bound to this content",
    "damaged": "mimicam mark detected, but its payload is unreadable (damaged): it cannot be bound to a key "
               "or to this content",
    "anonymous": "anonymous mimicam mark: mimicam's public mark, which names no one and is not bound to "
                 "content (it could have been copied)",
    "absent": "no mark found (this does not mean the content is real)",
}
EXITS = {"valid": EXIT_VALID, "unbound": EXIT_NOT_BOUND, "foreign": EXIT_NOT_BOUND, "damaged": EXIT_DAMAGED,
         "anonymous": EXIT_ANONYMOUS, "absent": EXIT_NO_MARK}
_PRECEDENCE = ("valid", "anonymous", "unbound", "foreign", "damaged")


@dataclass(frozen=True)
class StreamReport:
    """Windows of one input. ``p_value`` is the best window's, multiplied by the number of windows.
    ``status``: "valid" if any window is valid, else the first of anonymous, unbound, foreign, damaged
    found in a marked window, else "absent"."""

    source: str
    frames: int
    windows: list[MarkResult]
    starts: list[int]
    marked: bool
    status: str
    p_value: float
    session_id: int | None
    classifier_score: float | None = None

    @property
    def exit_code(self) -> int:
        return EXITS[self.status]

    @property
    def says(self) -> str:
        return SAYS[self.status]

    def to_json(self) -> dict:
        d = asdict(self)
        d["p_value"] = safe_p(self.p_value)
        for w, start in zip(d["windows"], self.starts):
            w["p_value"] = safe_p(w["p_value"])
            w["first_frame"], w["last_frame"] = start, start + w["frames"] - 1
        d["exit_code"], d["says"] = self.exit_code, self.says
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
            files = sorted(p for p in path.iterdir() if is_image(p))
            if not files:
                raise InputError(f"folder {path} holds no image files", f"expected one of {sorted(IMAGE_EXTS)}")
            yield from (_read_image(p) for p in files[:limit])
            return
        if is_image(path):
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


def verify_stream(frames: Iterator[np.ndarray], keys: bytes | list[tuple[str, bytes]] | None, window: int = 30,
                  scales: tuple[float, ...] | None = None, source: str = "") -> StreamReport:
    """Verify consecutive non-overlapping windows of ``frames``; a shorter last window is checked too.
    ``keys``: see ``MarkVerifier`` (None: presence only)."""
    verifier = MarkVerifier(keys, window=window, scales=scales)
    results: list[MarkResult] = []
    starts: list[int] = []
    count = 0
    for frame in frames:
        if frame.ndim != 3 or min(frame.shape[:2]) < 32:
            raise InputError(f"frame {count} of {source} is {frame.shape}, expected at least 32x32 colour")
        verifier.feed(frame)
        count += 1
        if count % window == 0:
            results.append(verifier.result())
            starts.append(count - window)
            verifier.reset()
    if count % window:
        results.append(verifier.result())
        starts.append(count - count % window)
    if not results:
        raise InputError(f"no frames in {source}")
    best = min(results, key=lambda r: r.p_value)
    p = min(1.0, best.p_value * len(results))
    marked = p <= verifier.alpha
    found = {r.status for r in results if r.marked}
    status = next((s for s in _PRECEDENCE if s in found), "absent") if marked else "absent"
    sid = next((r.session_id for r in results if r.status == "valid"), None) if status == "valid" else None
    return StreamReport(source, count, results, starts, marked, status, p, sid)


def safe_p(p: float) -> float:
    """JSON-friendly p-value (no underflow to exactly 0 hidden: the floor is the smallest float)."""
    return max(p, math.ulp(0.0))
