"""Landmark-cached frames of talking-head videos, for training and evaluating the generator.

Each video is reduced once to ``frames_per_video`` evenly spaced frames, all cropped with one box (the
``CropBox`` around the face of the video's first frame, exactly as a portrait is cropped), with the
keypoints and Jacobians of every frame in that crop's normalised coordinates. A pair of frames of one
video is then a self-reenactment example: the first is the portrait, the second the driver and target.
The cache is one ``.npz`` per video (no pickle), keyed by the video's SHA-256 and the crop size.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..realtime.media import video_fps, video_frames, videos_in

CACHE_VERSION = 1


@dataclass(frozen=True)
class Clip:
    """One cached video: frames (N,S,S,3) uint8 BGR, kp (N,K,2), jac (N,K,2,2) in crop coordinates."""

    name: str
    frames: np.ndarray
    kp: np.ndarray
    jac: np.ndarray
    index: np.ndarray  # frame numbers in the video

    def __post_init__(self) -> None:
        n = len(self.frames)
        if not (len(self.kp) == len(self.jac) == len(self.index) == n) or n < 2:
            raise ValueError(f"clip {self.name}: {n} frames, {len(self.kp)} kp, {len(self.jac)} jac "
                             f"(expected equal counts >= 2)")


def list_videos(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        from ..realtime.errors import InputError
        raise InputError(f"data folder {folder} does not exist", "pass --data DIR with talking-head videos")
    return videos_in(folder)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:20]


def _read_frames(path: Path, count: int) -> tuple[list[np.ndarray], list[int], float]:
    frames = list(video_frames(path))  # all (frame counts in headers are unreliable), subsampled below
    fps = video_fps(path, 25.0)
    total = len(frames)
    keep = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int)) if total else []
    return [frames[i] for i in keep], [int(i) for i in keep], float(fps)


def extract_clip(path: Path, size: int, count: int) -> Clip | None:
    """Decode, crop and landmark one video. None when no face is found in its first frame."""
    from ..realtime.errors import NoFaceError
    from ..realtime.landmarks import LandmarkStage, find_portrait_face
    from ..realtime.motion import CropBox, KeypointFitter
    from ..realtime.portrait import crop_square

    frames, index, fps = _read_frames(path, count)
    if len(frames) < 2:
        return None
    try:
        face = find_portrait_face(frames[0], path.name)
    except NoFaceError:
        return None
    fitter = KeypointFitter()
    kp0, jac0 = fitter.fit(face.landmarks.xy)
    box = CropBox.around(kp0[0], jac0[0])
    crops, kps, jacs, idx = [], [], [], []
    with LandmarkStage() as stage:
        for f, i in zip(frames, index):
            crop = crop_square(f, box, size)
            lm = stage.detect(crop, int(i / fps * 1e9))
            if lm is None:
                continue
            kp, jac = fitter.fit(lm.xy)  # crop pixels -> normalised crop coordinates
            crops.append(crop)
            kps.append(kp / size * 2.0 - 1.0)
            jacs.append(jac * (2.0 / size))
            idx.append(i)
    if len(crops) < 2:
        return None
    return Clip(path.stem, np.stack(crops), np.stack(kps).astype(np.float32), np.stack(jacs).astype(np.float32),
                np.array(idx))


def load_clips(folder: Path, cache: Path, size: int = 256, count: int = 48, log=print) -> list[Clip]:
    """All videos of ``folder`` as cached clips (extracting the ones not cached yet)."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    clips = []
    for path in list_videos(folder):
        file = cache / f"{path.stem}-{_digest(path)}-{size}-{count}-v{CACHE_VERSION}.npz"
        if not file.exists():
            clip = extract_clip(path, size, count)
            if clip is None:
                log(f"  {path.name}: no face found, skipped")
                np.savez(file, empty=np.zeros(0))
                continue
            tmp = file.with_suffix(".tmp.npz")
            np.savez(tmp, frames=clip.frames, kp=clip.kp, jac=clip.jac, index=clip.index)
            tmp.replace(file)
            log(f"  {path.name}: {len(clip.frames)} frames cached")
        with np.load(file, allow_pickle=False) as z:
            if "frames" not in z:
                continue
            clips.append(Clip(path.stem, z["frames"], z["kp"], z["jac"], z["index"]))
    return clips


def split_by_video(clips: list[Clip], val_fraction: float, seed: int) -> tuple[list[Clip], list[Clip]]:
    """Held-out split by video (never by frame), deterministic for a seed."""
    order = np.random.default_rng(seed).permutation(len(clips))
    n_val = int(round(len(clips) * val_fraction))
    if val_fraction > 0 and len(clips) > 1:
        n_val = max(n_val, 1)
    val = {int(i) for i in order[:n_val]}
    return [c for i, c in enumerate(clips) if i not in val], [c for i, c in enumerate(clips) if i in val]
