"""Is this portrait a good one to animate? Measures what makes the result fail and says what to do.

``check_portrait(path)`` finds the face (as the pipeline does), measures it once and returns a
``PortraitCheck``: the numbers and one ``Finding`` per rule broken. The rules live in ``CheckRules``;
``mimicam check`` prints them, and ``live``/``render`` print the warnings before they start
(``--strict`` refuses the portrait instead).

What is measured (face height = forehead landmark 10 to chin landmark 152, in pixels):
- face size; yaw, pitch and roll from MediaPipe's facial transformation matrix;
- mouth gap (inner lips), MediaPipe's jawOpen score, and visible teeth (bright, unsaturated pixels
  between the inner lips);
- eye opening (lid gap over eye width, the smaller eye);
- room above the forehead and below the chin, in face heights (the generator's crop needs both);
- sharpness: variance of the Laplacian of the face, resampled to a 128-px face;
- side light: lightness difference of the two cheeks, over their mean.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from ..engines.layout import FACE_OVAL, LIPS_INNER
from .imageio import load_image
from .landmarks import BLENDSHAPE, find_portrait_face
from .types import Landmarks

_EYES = ((159, 145, 33, 133), (386, 374, 362, 263))  # (upper lid, lower lid, corner, corner)
_NORM_FACE_PX = 128.0
_CHEEKS = ((50, 205), (280, 425))  # landmarks whose midpoints are the cheek centres


@dataclass(frozen=True)
class CheckRules:
    """The limits the check enforces (README "Pick a good portrait" lists the same)."""

    min_face_px: float = 80.0  # the generator's 256-px crop holds a ~111-px face: below 80 it is upscaled 1.4x+
    max_yaw_deg: float = 20.0
    pitch_range_deg: tuple[float, float] = (-10.0, 25.0)  # a frontal photo at eye level reads about +5..+15
    max_roll_deg: float = 12.0
    max_mouth_gap: float = 0.10  # inner-lip gap / face height
    max_jaw_open: float = 0.35  # MediaPipe's jawOpen blendshape score
    max_teeth: float = 0.012  # visible teeth area / face height squared
    min_eye_open: float = 0.12  # lid gap / eye width
    min_room_above: float = 0.6  # face heights between the forehead and the top of the picture
    min_room_below: float = 0.3  # face heights between the chin and the bottom of the picture
    min_sharpness: float = 250.0  # a Gaussian blur of sigma 1.5 px on a 105-px face reads ~210
    max_side_light: float = 0.65  # one cheek less than about half as light as the other

    def __post_init__(self) -> None:
        lo, hi = self.pitch_range_deg
        if lo >= hi:
            raise ValueError(f"CheckRules.pitch_range_deg: expected low < high, got {self.pitch_range_deg}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "pitch_range_deg" and not (np.isfinite(v) and v >= 0):
                raise ValueError(f"CheckRules.{f.name}: expected a finite number >= 0, got {v}")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str  # what was measured
    advice: str  # what to do

    def __str__(self) -> str:
        return f"{self.message}: {self.advice}"


@dataclass(frozen=True)
class PortraitCheck:
    name: str
    measures: dict[str, float]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.warnings

    def report(self) -> str:
        m = self.measures
        lines = [f"{self.name}: face {m['face_px']:.0f} px tall, yaw {m['yaw_deg']:+.0f}, pitch {m['pitch_deg']:+.0f}, "
                 f"roll {m['roll_deg']:+.0f} deg; mouth gap {m['mouth_gap']:.3f}, jaw open {m['jaw_open']:.2f}, "
                 f"teeth {m['teeth']:.4f}, eyes {m['eye_open']:.2f}; room above {m['room_above']:.2f}, "
                 f"below {m['room_below']:.2f} face heights; sharpness {m['sharpness']:.0f}, side light {m['side_light']:.2f}"]
        lines += [f"warning: {w}" for w in self.warnings] or ["portrait looks good"]
        return "\n".join(lines)


def _angles(pose: np.ndarray | None) -> tuple[float, float, float]:
    if pose is None:
        return 0.0, 0.0, 0.0
    r = np.asarray(pose, np.float64)[:3, :3]
    r = r / np.linalg.norm(r[:, 0])
    yaw = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-r[1, 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)


def _face_patch(image: np.ndarray, xy: np.ndarray, face_px: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Grey face region (box of the face oval) resampled to a 128-px face (a small face is upsampled, as
    the generator does, and reads soft), its oval mask, and the scale used."""
    oval = xy[list(FACE_OVAL)]
    x0, y0 = np.floor(oval.min(0)).astype(int)
    x1, y1 = np.ceil(oval.max(0)).astype(int)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    s = _NORM_FACE_PX / max(face_px, 1.0)
    grey = cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((oval - [x0, y0]) * s).astype(np.int32)], 1)
    return grey, mask, s


def _sharpness(grey: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F, ksize=3)
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    return float(lap[inner].var()) if inner.any() else 0.0


def _side_light(image: np.ndarray, xy: np.ndarray, face_px: float) -> float:
    """|median(left cheek) - median(right cheek)| / their mean, lightness of discs under the eyes."""
    lab_l = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)[..., 0]
    r = max(2, int(round(0.08 * face_px)))
    meds = []
    for a, b in _CHEEKS:
        mask = np.zeros(lab_l.shape, np.uint8)
        cx, cy = np.round((xy[a] + xy[b]) / 2).astype(int)
        cv2.circle(mask, (int(cx), int(cy)), r, 1, -1)
        vals = lab_l[mask > 0]
        meds.append(float(np.median(vals)) if vals.size else 0.0)
    return abs(meds[0] - meds[1]) / max(sum(meds) / 2, 1.0)


def _teeth(image: np.ndarray, xy: np.ndarray, face_px: float) -> float:
    """Area of bright, unsaturated pixels inside the inner lips, over face height squared."""
    poly = np.round(xy[list(LIPS_INNER)]).astype(np.int32)
    x, y, w, h = cv2.boundingRect(poly)
    x, y = max(x, 0), max(y, 0)
    roi = image[y:y + h, x:x + w]
    if roi.size == 0:
        return 0.0
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(mask, [poly - [x, y]], 1)
    hsv = cv2.cvtColor(roi, cv2.COLOR_BGR2HSV)
    grey = hsv[..., 2].astype(np.float32)
    skin = float(np.median(cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 2][_cheek_rows(xy, image.shape)]))
    teeth = (mask > 0) & (hsv[..., 1] < 110) & (grey > 0.8 * skin)
    return float(teeth.sum()) / max(face_px, 1.0) ** 2


def _cheek_rows(xy: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """A box on the nose bridge and cheeks (the skin's brightness for the teeth test)."""
    x0, x1 = sorted((xy[234, 0], xy[454, 0]))
    y0, y1 = sorted((xy[6, 1], xy[2, 1]))
    cx, w = (x0 + x1) / 2, (x1 - x0) * 0.35
    h, wi = shape[:2]
    return (slice(int(np.clip(y0, 0, h - 1)), int(np.clip(y1, 1, h))),
            slice(int(np.clip(cx - w, 0, wi - 1)), int(np.clip(cx + w, 1, wi))))


def measure(image: np.ndarray, lm: Landmarks) -> dict[str, float]:
    xy = lm.xy.astype(np.float64)
    face_px = float(np.linalg.norm(xy[152] - xy[10]))
    yaw, pitch, roll = _angles(lm.pose)
    eyes = [np.linalg.norm(xy[u] - xy[d]) / max(np.linalg.norm(xy[a] - xy[b]), 1e-6) for u, d, a, b in _EYES]
    grey, mask, s = _face_patch(image, xy, face_px)
    h = image.shape[0]
    return {
        "face_px": face_px, "yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll,
        "mouth_gap": float(np.linalg.norm(xy[14] - xy[13])) / face_px,
        "jaw_open": float(lm.blendshapes[BLENDSHAPE["jawOpen"]]) if lm.blendshapes is not None else 0.0,
        "teeth": _teeth(image, xy, face_px), "eye_open": float(min(eyes)),
        "room_above": float(xy[10, 1]) / face_px, "room_below": float(h - xy[152, 1]) / face_px,
        "sharpness": _sharpness(grey, mask), "side_light": _side_light(image, xy, face_px),
    }


def judge(m: dict[str, float], r: CheckRules = CheckRules()) -> tuple[Finding, ...]:
    out: list[Finding] = []

    def warn(cond: bool, code: str, message: str, advice: str) -> None:
        if cond:
            out.append(Finding(code, message, advice))

    warn(m["face_px"] < r.min_face_px, "small", f"the face is only {m['face_px']:.0f} px tall",
         f"use a larger or closer photo (face at least {r.min_face_px:.0f} px from forehead to chin)")
    warn(abs(m["yaw_deg"]) > r.max_yaw_deg, "yaw", f"the head is turned {abs(m['yaw_deg']):.0f} deg sideways",
         f"use a photo looking into the camera (within {r.max_yaw_deg:.0f} deg)")
    lo, hi = r.pitch_range_deg
    warn(not lo <= m["pitch_deg"] <= hi, "pitch", f"the head is tilted {'up' if m['pitch_deg'] < lo else 'down'} "
         f"(pitch {m['pitch_deg']:+.0f} deg)", "use a photo taken at eye level")
    warn(abs(m["roll_deg"]) > r.max_roll_deg, "roll", f"the head is tilted {abs(m['roll_deg']):.0f} deg to the side",
         "straighten the photo so that the eyes are level")
    mouth_open = m["mouth_gap"] > r.max_mouth_gap or m["jaw_open"] > r.max_jaw_open
    warn(mouth_open, "mouth", "the mouth is open",
         "use a photo with the mouth closed (the driver's mouth can open it, not close it)")
    warn(not mouth_open and m["teeth"] > r.max_teeth, "teeth", "teeth are showing",
         "use a photo with closed lips for the most natural mouth (teeth shown stay on the upper lip, and the "
         "lower ones are hidden as the mouth opens)")
    warn(m["eye_open"] < r.min_eye_open, "eyes", "the eyes look closed", "use a photo with open eyes")
    warn(m["room_above"] < r.min_room_above, "above", "there is little room above the head",
         "use a photo with the whole head and some background above the hair")
    warn(m["room_below"] < r.min_room_below, "below", "the picture ends at the chin",
         "use a photo that shows the neck and shoulders")
    warn(m["sharpness"] < r.min_sharpness, "blur", f"the face is blurred (sharpness {m['sharpness']:.0f})",
         "use a sharper, in-focus photo")
    warn(m["side_light"] > r.max_side_light, "light", "one side of the face is much darker",
         "use a photo with even, frontal light")
    return tuple(out)


def check_image(image: np.ndarray, name: str = "portrait", rules: CheckRules = CheckRules()) -> PortraitCheck:
    face = find_portrait_face(image, name)
    m = measure(image, face.landmarks)
    return PortraitCheck(name, m, judge(m, rules))


def check_portrait(path: str | Path, rules: CheckRules = CheckRules()) -> PortraitCheck:
    """Load and check one portrait. Raises InputError (unreadable) or NoFaceError."""
    return check_image(load_image(path), str(path), rules)
