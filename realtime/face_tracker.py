"""Face landmarks tracked from frame to frame by the FaceLandmarker's own landmark model, run directly.

MediaPipe's VIDEO mode spent about 8 ms per frame on this machine, of which its landmark model (the
``face_landmarks_detector.tflite`` inside ``face_landmarker.task``) took 5 ms on one thread; the rest was
graph overhead. This module runs that same model with LiteRT (``ai-edge-litert``, the TFLite runtime)
on two threads (3 ms), and does what MediaPipe's tracking graph does around it:

- the region of interest comes from the last frame's landmarks: their box, squared on its long side,
  1.5x, turned so that the eye corners (landmarks 33 and 263) are level;
- the region is cut to 256x256 RGB in [0, 1] (zero outside the image) and the model's 478 points are
  mapped back; a presence score under 0.5 means the face is lost;
- the points are smoothed with MediaPipe's One-Euro settings (min cutoff 0.05, beta 80, derivative
  cutoff 1, speed in face sizes per second).

Finding a face that is not tracked yet (the first frame, after a loss) is MediaPipe's job: the caller
(``landmarks.LandmarkStage``) gives the tracker the landmarks it found. On the 9 driving clips the
tracked points are within 0.2% of the face's size of MediaPipe's VIDEO-mode points (mean per clip).

LiteRT is imported here and nowhere else; where it is not installed (it has no wheel for an Intel Mac) or fails
to open, the caller keeps MediaPipe's VIDEO mode.
"""
from __future__ import annotations

import importlib.util
import io
import math
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np

from ..engines import netguard
from .filters import OneEuro

MODEL_IN_BUNDLE = "face_landmarks_detector.tflite"
SIDE = 256                       # the model's input, pixels
ROI_SCALE = 1.5                  # MediaPipe's region: the landmarks' box, squared, times this
EYE_CORNERS = (33, 263)          # the region is turned so that these two landmarks are level
MIN_PRESENCE = 0.5               # FaceLandmarker's min_face_presence_confidence
SMOOTH = dict(min_cutoff=0.05, beta=80.0, d_cutoff=1.0)   # MediaPipe's face landmark smoothing
THREADS = 2


def _interpreter_class():
    netguard.install()   # as for MediaPipe: the process gets no network before a native runtime loads
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def available() -> bool:
    """Whether LiteRT is installed (found, not loaded: loading it installs the network guard)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


@dataclass(frozen=True)
class Roi:
    """A square region of the frame: centre (pixels), side (pixels), turn (radians, image y down)."""

    cx: float
    cy: float
    side: float
    angle: float

    @staticmethod
    def around(points: np.ndarray) -> "Roi":
        xy = points[:, :2]
        x0, y0 = xy.min(0)
        x1, y1 = xy.max(0)
        d = xy[EYE_CORNERS[1]] - xy[EYE_CORNERS[0]]
        return Roi(float(x0 + x1) / 2, float(y0 + y1) / 2, float(max(x1 - x0, y1 - y0)) * ROI_SCALE,
                   math.atan2(float(d[1]), float(d[0])))

    def matrix(self) -> np.ndarray:
        """2x3 affine from model-input pixels (0..SIDE, corners) to frame pixels."""
        k = self.side / SIDE
        c, s = math.cos(self.angle) * k, math.sin(self.angle) * k
        h = SIDE / 2
        return np.array([[c, -s, self.cx - (c - s) * h], [s, c, self.cy - (s + c) * h]], np.float64)


class FaceTracker:
    """``track(image, t_s)`` -> (478, 3) float32 points in frame pixels (z scaled like x), or None when the
    face is lost (or nothing is tracked). ``start(points)`` hands it a face found by a detector."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or THREADS
        self._it = None
        self.roi: Roi | None = None

    def open(self, bundle: bytes) -> "FaceTracker":
        """``bundle``: the verified ``face_landmarker.task``."""
        if self._it is not None:
            return self
        cls = _interpreter_class()
        if cls is None:
            raise RuntimeError("LiteRT (ai-edge-litert) is not installed")
        with zipfile.ZipFile(io.BytesIO(bundle)) as z:
            model = z.read(MODEL_IN_BUNDLE)
        it = cls(model_content=model, num_threads=self.threads)
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        if tuple(inp["shape"]) != (1, SIDE, SIDE, 3):
            raise RuntimeError(f"{MODEL_IN_BUNDLE}: input shape expected (1, {SIDE}, {SIDE}, 3), got {tuple(inp['shape'])}")
        outs = {tuple(o["shape"]): o["index"] for o in it.get_output_details()}
        if (1, 1, 1, 478 * 3) not in outs or (1, 1, 1, 1) not in outs:
            raise RuntimeError(f"{MODEL_IN_BUNDLE}: outputs expected (1, 1, 1, 1434) and (1, 1, 1, 1), got {list(outs)}")
        self._in, self._out_points, self._out_presence = inp["index"], outs[(1, 1, 1, 478 * 3)], outs[(1, 1, 1, 1)]
        self._crop = np.zeros((SIDE, SIDE, 3), np.uint8)
        self._tensor = np.zeros((1, SIDE, SIDE, 3), np.float32)
        self._points = np.zeros((478, 3), np.float32)
        self._filter = OneEuro(478 * 3, raw_derivative=True, **SMOOTH)
        self._it = it
        return self

    def close(self) -> None:
        self._it = None
        self.roi = None

    def start(self, points: np.ndarray, t_s: float) -> None:
        """Track the face at ``points`` (a detector's landmarks in this frame, pixels) from the next frame on;
        they are also the smoothing's first sample."""
        self.roi = Roi.around(points)
        self._filter.reset()
        self._filter(points.reshape(-1), t_s)

    def lose(self) -> None:
        self.roi = None
        self._filter.reset()

    def track(self, image: np.ndarray, t_s: float) -> np.ndarray | None:
        if self.roi is None:
            return None
        m = self.roi.matrix()
        cv2.warpAffine(image, m, (SIDE, SIDE), dst=self._crop, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        cv2.cvtColor(self._crop, cv2.COLOR_BGR2RGB, dst=self._crop)
        np.multiply(self._crop, np.float32(1 / 255), out=self._tensor[0], casting="unsafe")
        self._it.set_tensor(self._in, self._tensor)
        self._it.invoke()
        logit = float(self._it.get_tensor(self._out_presence).reshape(-1)[0])
        if logit < math.log(MIN_PRESENCE / (1 - MIN_PRESENCE)):   # sigmoid(logit) < MIN_PRESENCE
            self.lose()
            return None
        raw = self._it.get_tensor(self._out_points).reshape(478, 3)
        p = self._points
        p[:, 0] = m[0, 0] * raw[:, 0] + m[0, 1] * raw[:, 1] + m[0, 2]
        p[:, 1] = m[1, 0] * raw[:, 0] + m[1, 1] * raw[:, 1] + m[1, 2]
        p[:, 2] = raw[:, 2] * (self.roi.side / SIDE)
        self.roi = Roi.around(p)   # the next region follows the raw points, as in MediaPipe
        (x0, y0), (x1, y1) = p[:, :2].min(0), p[:, :2].max(0)
        size = max(float(x1 - x0 + y1 - y0) / 2, 1e-6)
        return self._filter(p.reshape(-1), t_s, 1.0 / size).reshape(478, 3).astype(np.float32)
