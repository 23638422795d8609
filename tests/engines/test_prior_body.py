"""The body stays still under a moving head: the closed-form warp on a real portrait (the demo astronaut)."""
import numpy as np
import pytest
import torch

from mimicam.engines.config import get_config
from mimicam.engines.model import build_modules
from mimicam.engines.prior import CHIN_AT, SHOULDERS_AT


@pytest.fixture(scope="module")
def astronaut(portrait_path):
    from mimicam.realtime.portrait import prepare_portrait

    cfg = get_config("lite")
    p = prepare_portrait(portrait_path, cfg.image_size)
    enc, gen = build_modules(cfg)  # untrained: the closed form, its image the whole crop
    kp, jac = p.motion.kp[None], p.motion.jac[None]
    with torch.no_grad():
        cache = enc(torch.from_numpy(p.crop), torch.from_numpy(kp), torch.from_numpy(jac))

    def move(dy_faces: float) -> tuple[np.ndarray, np.ndarray]:
        """The whole face moved vertically by dy face heights -> (pasted crop (S,S,3), mask (S,S))."""
        kd = kp.copy()
        kd[..., 1] += dy_faces * 2.0 * np.sqrt(abs(np.linalg.det(jac[0, 0])))
        with torch.no_grad():
            image, mask, *_ = gen(*cache, torch.from_numpy(kd), torch.from_numpy(jac))
        m = mask.numpy()[0, 0]
        out = m[..., None] * image.numpy()[0].transpose(1, 2, 0) + (1 - m[..., None]) * p.crop[0].transpose(1, 2, 0)
        return out, m

    return p, move


def _rows_below(p, v: float, size: int) -> int:
    """First crop row (pixels) at v template units below the portrait's head keypoint (upright portrait)."""
    kp0, jac0 = p.motion.kp[0], p.motion.jac[0]
    y = kp0[1] + v * jac0[1, 1]
    return int(np.ceil((y + 1) / 2 * size))


@pytest.mark.parametrize("dy", [-0.3, -0.15])  # the head rises by 0.3 or 0.15 face heights
def test_a_vertical_head_move_leaves_the_body_below_the_shoulders_unchanged(astronaut, dy):
    p, move = astronaut
    out, mask = move(dy)
    src = p.crop[0].transpose(1, 2, 0)
    s = src.shape[0]
    body = _rows_below(p, SHOULDERS_AT + 0.1, s)
    assert body < s - 16  # a real band of body in the crop (its bottom is 1.9 template units below the head)
    assert np.abs(out[body:] - src[body:]).max() < 2 / 255
    # ... while the neck between the driven chin and the shoulders does move, and the face moves
    neck = _rows_below(p, CHIN_AT + dy * 2 + 0.1, s)
    cx = int((p.motion.kp[0, 0] + 1) / 2 * s)
    assert mask[neck, cx - 5:cx + 5].mean() > 0.5


def test_a_vertical_head_move_does_not_stretch_the_clothes_into_columns(astronaut):
    """Beside the neck, below the jaw, the clothes keep their own pixels (the old warp pulled them up along
    the head motion into streaks)."""
    p, move = astronaut
    out, _ = move(-0.3)
    src = p.crop[0].transpose(1, 2, 0)
    s = src.shape[0]
    kp0, jac0 = p.motion.kp[0], p.motion.jac[0]
    y0 = _rows_below(p, CHIN_AT + 0.1, s)
    side = int((kp0[0] + 1.6 * jac0[0, 0] + 1) / 2 * s)  # 1.6 template units right of the face centre
    patch = (slice(y0, y0 + 20), slice(side, min(side + 20, s)))
    assert np.abs(out[patch] - src[patch]).mean() < 0.02
