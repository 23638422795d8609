"""MediaPipe FaceLandmarker (Tasks API): 478 landmarks (blendshapes and head pose only when asked for:
nothing reads them, and computing them on every frame cost time).

``LandmarkStage`` finds the driver's face with the FaceLandmarker and follows it with ``face_tracker`` (the
landmark model of the same bundle, run directly); without LiteRT, MediaPipe's VIDEO mode does both
(monotonic timestamps from the capture clock).
``ImageFaces`` runs in IMAGE mode (no tracking between the images it is shown): portraits, the classifier's
face locator, evaluation. ``find_portrait_face`` analyses a portrait once and looks harder when the faces
are small (upscaled overlapping tiles), returning the largest face and what it found. This is the one
module that talks to MediaPipe (``face_tracker`` runs one model of its bundle with LiteRT).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from ..engines import netguard
from . import face_tracker
from .assets import landmarker_model
from .errors import NoFaceError
from .face_tracker import FaceTracker
from .types import Landmarks

log = logging.getLogger(__name__)


# Portrait analysis (find_portrait_face): MediaPipe's detector misses faces that are small in the frame, so
PORTRAIT_MAX_FACES, PORTRAIT_MIN_CONF = 8, 0.4   # look for up to 8 faces, a little less strictly than live
TILE_GRIDS = (2, 3)          # then split the image into 2x2, then 3x3 tiles that overlap by half
TILE_SIDE_PX = 640.0         # and upscale each tile to about this side (where it is smaller)
REFINE_CONTEXT = 1.8         # the face found is measured again on a crop this many face sides wide
REFINE_SIDE_PX = 512.0       # upscaled to this side
SAME_FACE = 0.3              # two detections closer than this many face sides are the same face


# MediaPipe's 52 blendshapes come in a fixed order; the ones mimicam reads (portrait check, evaluation)
BLENDSHAPE = {"eyeBlinkLeft": 9, "eyeBlinkRight": 10, "jawOpen": 25}


def _mp():
    netguard.install()   # MediaPipe reports usage to Google from a thread of its own: no network for it
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return mp, BaseOptions, vision


@contextmanager
def quiet_native_stderr():
    """MediaPipe's C++ side (and FFmpeg's) log informational lines to stderr; the user gets our one-line
    messages instead. Python exceptions still propagate. File descriptor 2 belongs to the whole process,
    so it is only redirected from the main thread: elsewhere another thread's output (or a redirect of
    its own) could be lost, and the native lines are let through instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _create(video: bool, num_faces: int, min_conf: float = 0.5, extras: bool = False):
    """``extras``: also the 52 blendshapes and the head-pose matrix of every face."""
    mp, BaseOptions, vision = _mp()
    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=landmarker_model()),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=num_faces, min_face_detection_confidence=min_conf, min_face_presence_confidence=min_conf,
        min_tracking_confidence=0.5, output_face_blendshapes=extras, output_facial_transformation_matrixes=extras)
    with quiet_native_stderr():
        return vision.FaceLandmarker.create_from_options(opts)


def _to_landmarks(result, i: int, w: int, h: int, offset=(0.0, 0.0), scale: float = 1.0) -> Landmarks:
    pts = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[i]], dtype=np.float32)
    pts[:, 0] = pts[:, 0] * w / scale + offset[0]
    pts[:, 1] = pts[:, 1] * h / scale + offset[1]
    pts[:, 2] = pts[:, 2] * w / scale
    bs = pose = None
    if result.face_blendshapes:
        bs = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
    if result.facial_transformation_matrixes:
        pose = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
    return Landmarks(points=pts, image_size=(int(round(w / scale)), int(round(h / scale))), blendshapes=bs, pose=pose)


def mp_image(bgr: np.ndarray):
    mp, _, _ = _mp()
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))


class LandmarkStage:
    """Driving-frame landmarks. ``detect(image, t_ns)`` -> Landmarks or None (no face).

    A face is found by the FaceLandmarker (IMAGE mode) and then followed from frame to frame by its landmark
    model run directly (``face_tracker``: the same points as MediaPipe's VIDEO mode in less than half the
    time). Where LiteRT is not installed, MediaPipe's VIDEO mode does both."""

    def __init__(self) -> None:
        self._lm = None
        self._tracker: FaceTracker | None = None
        self._last_ms = -1

    @property
    def tracking(self) -> str:
        """Which path follows the face: ``"litert"`` or ``"mediapipe"``."""
        return "litert" if self._tracker is not None else "mediapipe"

    def open(self) -> "LandmarkStage":
        if self._lm is None:
            if face_tracker.available():
                try:
                    with quiet_native_stderr():   # LiteRT's own "INFO: Created ... delegate" line
                        self._tracker = FaceTracker().open(landmarker_model())
                except (ImportError, OSError, RuntimeError, ValueError) as exc:   # a broken LiteRT install
                    log.warning("LiteRT could not run the face model (%s); MediaPipe follows the face", exc)
                    self._tracker = None
            self._lm = _create(video=self._tracker is None, num_faces=1)
            self._last_ms = -1
        return self

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def __enter__(self) -> "LandmarkStage":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: np.ndarray, t_ns: int) -> Landmarks | None:
        ms = max(t_ns // 1_000_000, self._last_ms + 1)  # MediaPipe needs strictly increasing timestamps
        self._last_ms = ms
        h, w = image.shape[:2]
        if self._tracker is None:
            result = self._lm.detect_for_video(mp_image(image), int(ms))
            return _to_landmarks(result, 0, w, h) if result.face_landmarks else None
        if self._tracker.roi is not None:
            pts = self._tracker.track(image, ms / 1000)
            return None if pts is None else Landmarks(points=pts, image_size=(w, h))
        result = self._lm.detect(mp_image(image))   # nothing tracked: find the face
        if not result.face_landmarks:
            return None
        found = _to_landmarks(result, 0, w, h)
        self._tracker.start(found.points, ms / 1000)
        return found


class ImageFaces:
    """IMAGE-mode landmarks of every face in an image, largest first. ``extras``: blendshapes and the
    head-pose matrix too (for evaluation; the live path never asks for them)."""

    def __init__(self, num_faces: int = 1, min_conf: float = 0.5, extras: bool = False) -> None:
        self.num_faces, self.min_conf, self.extras = num_faces, min_conf, extras
        self._lm = None

    def open(self) -> "ImageFaces":
        if self._lm is None:
            self._lm = _create(video=False, num_faces=self.num_faces, min_conf=self.min_conf, extras=self.extras)
        return self

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def __enter__(self) -> "ImageFaces":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: np.ndarray, offset=(0.0, 0.0), scale: float = 1.0) -> list[Landmarks]:
        """Faces of ``image`` (HxWx3 BGR), largest first; ``offset``/``scale`` map back from a tile."""
        h, w = image.shape[:2]
        res = self._lm.detect(mp_image(image))
        faces = [_to_landmarks(res, i, w, h, offset, scale) for i in range(len(res.face_landmarks))]
        return sorted(faces, key=_area, reverse=True)

    def largest(self, image: np.ndarray) -> Landmarks | None:
        faces = self.detect(image)
        return faces[0] if faces else None


@dataclass(frozen=True)
class PortraitFace:
    landmarks: Landmarks
    faces_found: int
    method: str  # "whole image" | "upscaled tiles"

    @property
    def note(self) -> str | None:
        if self.faces_found > 1:
            return f"{self.faces_found} faces found ({self.method}); animating the largest"
        if self.method != "whole image":
            return f"face found with {self.method}"
        return None


def _area(lm: Landmarks) -> float:
    x0, y0, x1, y1 = lm.box()
    return (x1 - x0) * (y1 - y0)


def _dedupe(faces: list[Landmarks]) -> list[Landmarks]:
    kept: list[Landmarks] = []
    for f in sorted(faces, key=_area, reverse=True):
        c = f.xy.mean(0)
        if all(np.linalg.norm(c - k.xy.mean(0)) > SAME_FACE * np.sqrt(_area(k)) for k in kept):
            kept.append(f)
    return kept


def _tiles(w: int, h: int, n: int) -> list[tuple[int, int, int, int]]:
    tw, th = int(w / n * 1.5), int(h / n * 1.5)  # 50% overlap
    xs = np.linspace(0, max(w - tw, 0), n).astype(int)
    ys = np.linspace(0, max(h - th, 0), n).astype(int)
    return [(x, y, min(x + tw, w), min(y + th, h)) for y in ys for x in xs]


def find_portrait_face(image: np.ndarray, name: str = "portrait") -> PortraitFace:
    """Largest face of a portrait, with its blendshapes and head pose (the portrait check reads them; once
    per portrait, so they cost nothing per frame). Looks at the whole image, then at upscaled tiles; the face
    chosen is measured again on an upscaled crop around it."""
    with ImageFaces(num_faces=PORTRAIT_MAX_FACES, min_conf=PORTRAIT_MIN_CONF, extras=True) as lm:
        faces = lm.detect(image)
        method = "whole image"
        if not faces:
            method = "upscaled tiles"
            h, w = image.shape[:2]
            for n in TILE_GRIDS:
                for x0, y0, x1, y1 in _tiles(w, h, n):
                    tile = image[y0:y1, x0:x1]
                    scale = TILE_SIDE_PX / max(tile.shape[:2])
                    if scale > 1.0:
                        tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                    else:
                        scale = 1.0
                    faces += lm.detect(tile, (x0, y0), scale)
                faces = _dedupe(faces)
                if faces:
                    break
        if not faces:
            raise NoFaceError(f"no face found in {name}",
                              "use a photo where one face is clearly visible, frontal, at least ~64 px tall")
        faces = _dedupe(faces)
        best = faces[0]
        # the face is measured again on a crop around it, scaled to REFINE_SIDE_PX: on a whole 1280x720 canvas
        # MediaPipe put a smiling portrait's inner lips about 6 px low (the upper one on her teeth), and the mouth
        # and lids are painted where the landmarks say
        x0, y0, x1, y1 = best.box()
        side = REFINE_CONTEXT * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        bx0, by0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
        crop = image[by0:int(cy + side / 2), bx0:int(cx + side / 2)]
        scale = REFINE_SIDE_PX / max(crop.shape[:2])
        crop = cv2.resize(crop, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        refined = lm.detect(crop, (bx0, by0), scale)
        if refined:
            pts = refined[0].points
            best = Landmarks(pts, (image.shape[1], image.shape[0]), refined[0].blendshapes, refined[0].pose)
        return PortraitFace(best, len(faces), method)
