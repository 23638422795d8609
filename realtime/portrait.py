"""Everything that depends only on the portrait, computed once: the portrait fitted onto the output
canvas (see ``canvas.py``), its largest face, the crop box around head and hair, the crop as the
generator's input, and the portrait's keypoints. All of it in canvas pixels."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .canvas import Placement, fit_to_canvas, render_size
from .imageio import load_image
from .landmarks import find_portrait_face
from .motion import CropBox, KeypointFitter
from .types import Landmarks, Motion


@dataclass(frozen=True)
class Portrait:
    name: str
    image: np.ndarray  # the portrait fitted onto the output canvas, HxWx3 uint8 BGR: the clean base of every frame
    landmarks: Landmarks
    box: CropBox
    crop: np.ndarray  # (1, 3, S, S) float32 BGR in [0, 1]
    motion: Motion  # keypoints and Jacobians in the crop's normalised coordinates
    note: str | None = None
    placement: Placement | None = None  # where the portrait sits on the canvas
    source_size: tuple[int, int] | None = None  # (width, height) of the portrait as given


def crop_square(image: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """The box (which may extend past the image: edges are replicated) resampled to size x size."""
    scale = size / box.side
    m = np.array([[scale, 0, -box.x0 * scale], [0, scale, -box.y0 * scale]], np.float32)
    src = image
    if scale < 0.5:  # pre-shrink to avoid aliasing when the face is much larger than the crop
        f = 1.0 / (2 ** int(np.log2(1 / scale)))
        src = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m[:, :2] /= f
    return cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def prepare_portrait(source: str | Path | np.ndarray, image_size: int, name: str | None = None,
                     size: tuple[int, int] | None = None) -> Portrait:
    """Load (if a path), fit onto a ``size`` = (width, height) canvas (default: the portrait's own
    aspect, see ``canvas.render_size``), find the largest face, crop and compute keypoints.
    Raises InputError/NoFaceError."""
    if isinstance(source, np.ndarray):
        original, name = source, name or "portrait"
    else:
        original, name = load_image(source), name or str(source)
    h0, w0 = original.shape[:2]
    image, placement = fit_to_canvas(original, size or render_size(w0, h0))
    face = find_portrait_face(image, name)
    kp_px, jac_px = KeypointFitter().fit(face.landmarks.xy)
    box = CropBox.around(kp_px[0], jac_px[0])
    crop = crop_square(image, box, image_size)
    tensor = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    motion = Motion(box.to_norm(kp_px), box.jac_to_norm(jac_px))
    return Portrait(name, image, face.landmarks, box, tensor, motion, face.note, placement, (w0, h0))
