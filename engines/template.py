"""The canonical 2-D face template: the Procrustes mean of MediaPipe landmarks over frames of the
training clips (upright, eye line horizontal, rigid-landmark centroid at 0, face oval 2 units tall).
Keypoint Jacobians are affine fits from this template to the landmarks, so they are comparable between
faces; only relative Jacobians matter to the warp."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import GeneratorConfig
from .layout import KEYPOINTS

TEMPLATE_PATH = Path(__file__).with_name("face_template.npy")


@lru_cache(maxsize=1)
def face_template() -> np.ndarray:
    """(478, 2) float32."""
    t = np.load(TEMPLATE_PATH, allow_pickle=False)
    if t.shape != (478, 2):
        raise ValueError(f"face template: expected shape (478, 2), got {t.shape}")
    return t.astype(np.float32)


@lru_cache(maxsize=1)
def template_keypoints() -> np.ndarray:
    """(K, 2) keypoint centres in template units."""
    t = face_template()
    return np.stack([t[list(k.landmarks)].mean(0) for k in KEYPOINTS]).astype(np.float32)


def example_motion(cfg: GeneratorConfig, rng: np.random.Generator, jitter: float, scale: float = 0.36
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Template keypoints placed in a crop (face ~0.7 of the crop tall), optionally jittered: (1,K,2), (1,K,2,2)."""
    kp = template_keypoints() * scale + rng.normal(0, jitter, (cfg.num_kp, 2)).astype(np.float32)
    jac = np.tile(np.eye(2, dtype=np.float32) * scale, (cfg.num_kp, 1, 1))
    jac = jac + rng.normal(0, jitter * scale, jac.shape).astype(np.float32)
    return kp[None].astype(np.float32), jac[None].astype(np.float32)
