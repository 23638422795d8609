"""Files shipped inside the package, each verified by SHA-256 before use. Nothing is downloaded."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .errors import ModelError

ASSET_DIR = Path(__file__).with_name("assets")
SHA256 = {
    "face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "demo_portrait.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "demo_driving.mp4": "ac7ee3c2419046f11dc230b6db33c2391a98334eba2b1d773e7eb9627992622f",
}


def verify_sha256(path: Path, expected: str, what: str) -> bytes:
    """Read a file and check its SHA-256; returns its bytes. Raises ModelError on any mismatch."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{what} {path} cannot be read ({exc.strerror})", "reinstall mimicam") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ModelError(f"{what} {path} has SHA-256 {digest[:12]}..., expected {expected[:12]}...",
                         "the file is corrupt or was replaced; reinstall mimicam")
    return data


def asset_path(name: str) -> Path:
    return ASSET_DIR / name


@lru_cache(maxsize=None)
def verified_asset(name: str) -> bytes:
    return verify_sha256(asset_path(name), SHA256[name], f"shipped file {name}")


def landmarker_model() -> bytes:
    """The MediaPipe FaceLandmarker bundle, verified."""
    return verified_asset("face_landmarker.task")


def demo_portrait_path() -> Path:
    verified_asset("demo_portrait.png")
    return asset_path("demo_portrait.png")


def demo_driving_path() -> Path:
    verified_asset("demo_driving.mp4")
    return asset_path("demo_driving.mp4")
