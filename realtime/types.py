"""Typed, frozen data carried between stages. Validated once, at the boundary, in ``__post_init__``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _expect(cond: bool, what: str, expected: str, actual: object) -> None:
    if not cond:
        raise ValueError(f"{what}: expected {expected}, got {actual}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame. ``image`` is HxWx3 uint8 BGR; ``t_capture_ns`` is ``time.perf_counter_ns()``
    when the frame was read (the monotonic clock every stage uses)."""

    image: np.ndarray
    t_capture_ns: int
    index: int

    def __post_init__(self) -> None:
        im = self.image
        _expect(isinstance(im, np.ndarray) and im.dtype == np.uint8, "Frame.image dtype", "uint8 ndarray",
                getattr(im, "dtype", type(im)))
        _expect(im.ndim == 3 and im.shape[2] == 3, "Frame.image shape", "HxWx3", im.shape)


@dataclass(frozen=True, slots=True)
class Landmarks:
    """MediaPipe face landmarks of one face, in pixels of the image they were found in.

    ``points``: (478, 3) float32, x and y in pixels, z in MediaPipe's relative depth scaled like x.
    ``blendshapes``: (52,) float32 or None. ``pose``: (4, 4) float32 facial transformation or None.
    """

    points: np.ndarray
    image_size: tuple[int, int]  # (width, height)
    blendshapes: np.ndarray | None = None
    pose: np.ndarray | None = None

    def __post_init__(self) -> None:
        _expect(self.points.shape == (478, 3), "Landmarks.points shape", "(478, 3)", self.points.shape)

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]

    def box(self) -> tuple[float, float, float, float]:
        """Tight (x0, y0, x1, y1) box of the landmarks in pixels."""
        xy = self.xy
        return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))


@dataclass(frozen=True, slots=True)
class Motion:
    """Keypoints and Jacobians in the portrait crop's normalised coordinates ([-1, 1], x right, y down,
    ``align_corners=False`` convention). ``kp``: (K, 2) float32, ``jac``: (K, 2, 2) float32."""

    kp: np.ndarray
    jac: np.ndarray

    def __post_init__(self) -> None:
        k = self.kp.shape[0]
        _expect(self.kp.shape == (k, 2), "Motion.kp shape", "(K, 2)", self.kp.shape)
        _expect(self.jac.shape == (k, 2, 2), "Motion.jac shape", f"({k}, 2, 2)", self.jac.shape)


@dataclass(frozen=True, slots=True)
class OutputFrame:
    """A frame ready for a sink: HxWx3 uint8 BGR, already marked and badged (or a labelled slate).

    ``source_index``/``t_capture_ns`` are those of the driving frame it answers (or of the last one seen,
    for a slate). ``kind`` is "generated", "held" (face lost: last pose easing to neutral) or "slate"."""

    image: np.ndarray
    index: int
    source_index: int
    t_capture_ns: int
    kind: str = "generated"
