"""Training: augmentation keeps keypoints consistent, a few steps reduce the loss on a real clip,
checkpoints are written and a run resumes where it stopped."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from mimicam.engines.config import get_config
from shared_data import DRIVING
from mimicam.tools.train_data import load_clips, split_by_video
from mimicam.engines.model import build_modules
from mimicam.tools.train_generator import FLIP_PERM, TrainOptions, flip, losses, make_batch, reenact, ssim, train

CLIP = "lp_d0_man_greenscreen_expressions.mp4"
SMALL = dataclasses.replace(get_config("lite"), image_size=128, motion_size=32)  # same layers, 4x cheaper


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    src = DRIVING / CLIP
    if not src.exists():
        pytest.skip(f"{src} not available")
    folder = tmp_path_factory.mktemp("videos")
    (folder / CLIP).symlink_to(src)
    cache = tmp_path_factory.mktemp("frames")
    clips = load_clips(folder, cache, SMALL.image_size, 6, log=lambda *_: None)
    return folder, cache, clips


def test_flip_is_an_involution_that_swaps_sides():
    assert (FLIP_PERM[FLIP_PERM] == np.arange(len(FLIP_PERM))).all()
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    kp, jac = rng.normal(size=(len(FLIP_PERM), 2)).astype(np.float32), rng.normal(size=(len(FLIP_PERM), 2, 2)).astype(np.float32)
    img2, kp2, jac2 = flip(*flip(img, kp, jac))
    assert (img2 == img).all() and np.allclose(kp2, kp) and np.allclose(jac2, jac)
    assert np.allclose(np.linalg.det(flip(img, kp, jac)[2]), np.linalg.det(jac[FLIP_PERM]), atol=1e-5)


def test_split_is_by_video_and_deterministic(data):
    clips = data[2] * 10
    clips = [type(c)(f"{c.name}{i}", c.frames, c.kp, c.jac, c.index) for i, c in enumerate(clips)]
    tr, va = split_by_video(clips, 0.2, seed=3)
    assert len(va) == 2 and not {c.name for c in tr} & {c.name for c in va}
    assert [c.name for c in split_by_video(clips, 0.2, seed=3)[1]] == [c.name for c in va]


def test_ssim_of_identical_images_is_one():
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)


def test_a_few_steps_reduce_the_loss_on_a_real_clip(data):
    torch.manual_seed(0)
    enc, gen = build_modules(SMALL)
    enc.train(), gen.train()
    batch = make_batch(data[2], np.random.default_rng(1), 2, augment=False)
    opt = torch.optim.Adam(list(enc.parameters()) + list(gen.parameters()), lr=3e-4, betas=(0.5, 0.999))
    history = []
    for _ in range(10):  # Adam's first steps can overshoot; ten steps settle below the start
        loss = losses(reenact(enc, gen, batch), batch["driving"], 1.0)["loss"]
        history.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        history.append(float(losses(reenact(enc, gen, batch), batch["driving"], 1.0)["loss"]))
    assert history[-1] < history[0] * 0.97, history


def test_train_checkpoints_and_resumes(data, tmp_path):
    folder, cache, _ = data
    opts = TrainOptions(data=folder, out=tmp_path, config=SMALL, steps=2, batch=1, checkpoint_every=1, cache=cache, val_fraction=0.0,
                        frames_per_video=6)
    train(opts, log=lambda *_: None)
    assert (tmp_path / "checkpoints" / "step_000002.safetensors").exists()
    meta = json.loads((tmp_path / "last.json").read_text())
    assert meta["step"] == 2 and meta["training"]["train_videos"] == [CLIP[:-4]] and len(meta["sha256"]) == 64
    opts.steps, opts.resume = 3, True
    train(opts, log=lambda *_: None)
    assert json.loads((tmp_path / "last.json").read_text())["step"] == 3
