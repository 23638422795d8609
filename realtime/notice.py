"""On-screen notice for live use: after a few seconds with no face in the camera, the output says so
(the portrait meanwhile holds its last pose and eases back to neutral). Drawn into the composed frame
before it is marked and badged, so it travels with the frame to the window, virtual camera or file."""
from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_DUPLEX
NO_FACE_TEXT = "no face in the camera - look into it"


def _render(width: int, height: int, text: str) -> np.ndarray:
    plate_h = max(16, int(round(height * 0.05)))
    scale = cv2.getFontScaleFromHeight(FONT, int(plate_h * 0.5), 1)
    thick = max(1, plate_h // 20)
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, thick)
    pad = plate_h // 3
    patch = np.full((plate_h, min(tw + 2 * pad, width), 3), 20, np.uint8)
    cv2.putText(patch, text, (pad, (plate_h + th) // 2), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return patch


class NoFaceNotice:
    """``apply(image, has_face, t_ns)``: draws the notice (top centre) once no face was seen for
    ``after_s`` seconds. Patches are rendered once per frame size."""

    def __init__(self, after_s: float = 3.0, text: str = NO_FACE_TEXT) -> None:
        if not after_s >= 0:
            raise ValueError(f"NoFaceNotice.after_s: expected >= 0 seconds, got {after_s}")
        self.after_ns, self.text = int(after_s * 1e9), text
        self._last_face_ns: int | None = None
        self._patches: dict[tuple[int, int], np.ndarray] = {}
        self.showing = False

    def apply(self, image: np.ndarray, has_face: bool, t_ns: int) -> bool:
        """True when the notice was drawn into ``image`` (in place)."""
        if has_face or self._last_face_ns is None:
            self._last_face_ns = t_ns  # the clock starts with the first frame
        self.showing = not has_face and t_ns - self._last_face_ns >= self.after_ns
        if self.showing:
            h, w = image.shape[:2]
            patch = self._patches.get((w, h))
            if patch is None:
                patch = self._patches[(w, h)] = _render(w, h, self.text)
            x, y = (w - patch.shape[1]) // 2, max(4, int(h * 0.03))
            image[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
        return self.showing
