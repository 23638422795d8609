"""Self-supervised training of the learned residuals (``network.py``) on talking-head videos.

Source and driving frames come from the same video (cropped with one box, ``dataset.py``); the motion
comes from their cached MediaPipe keypoints; the loss is a pyramid L1 plus luma (1 - SSIM) between the
generated crop, pasted over the source like the live compositor does, and the real driving frame.
Augmentation: the same colour jitter on both frames, horizontal flips (keypoints mirrored and their
left/right roles swapped) and JPEG compression of the source. Every step's batch is a pure function of
(seed, step), so a resumed run sees exactly the batches an uninterrupted one would. Checkpoints are
safetensors + JSON sidecar (``weights.py``); the optimiser state sits next to them, also as safetensors.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engines.config import GeneratorConfig, get_config
from ..engines.layout import KEYPOINTS
from ..engines.model import build_modules
from ..engines.weights import save_weights
from .train_data import Clip, load_clips, split_by_video

LUMA = (0.114, 0.587, 0.299)  # BGR weights, BT.601


@dataclass
class TrainOptions:
    data: Path
    out: Path
    config: str | GeneratorConfig = "lite"
    steps: int = 2000
    batch: int = 4
    lr: float = 3e-4
    seed: int = 0
    val_fraction: float = 0.1
    checkpoint_every: int = 250
    frames_per_video: int = 48
    cache: Path | None = None
    ssim_weight: float = 1.0
    resume: bool = False
    time_limit_min: float = 0.0  # > 0: checkpoint and stop after this many minutes of this run
    extra_val: list[Clip] = field(default_factory=list, repr=False)


# --- augmentation -------------------------------------------------------------------------------------
def _flip_perm() -> np.ndarray:
    names = [k.name for k in KEYPOINTS]
    swap = {"r_": "l_", "l_": "r_"}
    return np.array([names.index(swap[n[:2]] + n[2:]) if n[:2] in swap else i for i, n in enumerate(names)])


FLIP_PERM = _flip_perm()
MIRROR = np.diag([-1.0, 1.0]).astype(np.float32)


def flip(img: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a crop and its keypoints: x -> -x, left/right keypoints swap roles, J -> M J M."""
    kp = kp[FLIP_PERM] * np.array([-1.0, 1.0], np.float32)
    jac = MIRROR @ jac[FLIP_PERM] @ MIRROR
    return img[:, ::-1].copy(), kp, jac


def colour_jitter(imgs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random gain per channel, brightness, contrast and saturation on every image (float32 [0,1])."""
    gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    bright, contrast, sat = rng.uniform(-0.08, 0.08), rng.uniform(0.8, 1.2), rng.uniform(0.7, 1.3)
    out = []
    for im in imgs:
        x = im * gain
        grey = (x * np.array(LUMA, np.float32)).sum(-1, keepdims=True)
        x = grey + sat * (x - grey)
        x = (x - 0.5) * contrast + 0.5 + bright
        out.append(np.clip(x, 0.0, 1.0))
    return out


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def make_batch(clips: list[Clip], rng: np.random.Generator, size: int, augment: bool = True,
               device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """``size`` (source, driving) pairs from random clips, as model-ready tensors."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("source", "driving", "kp_s", "jac_s", "kp_d", "jac_d")}
    for _ in range(size):
        clip = clips[rng.integers(len(clips))]
        i, j = rng.choice(len(clip.frames), 2, replace=False)
        src, drv = clip.frames[i], clip.frames[j]
        kp_s, jac_s, kp_d, jac_d = clip.kp[i], clip.jac[i], clip.kp[j], clip.jac[j]
        if augment and rng.random() < 0.3:
            src = jpeg(src, rng.integers(30, 90))
        if augment and rng.random() < 0.5:
            src, kp_s, jac_s = flip(src, kp_s, jac_s)
            drv, kp_d, jac_d = flip(drv, kp_d, jac_d)
        src, drv = src.astype(np.float32) / 255.0, drv.astype(np.float32) / 255.0
        if augment:
            src, drv = colour_jitter([src, drv], rng)
        for k, v in zip(cols, (src.transpose(2, 0, 1), drv.transpose(2, 0, 1), kp_s, jac_s, kp_d, jac_d)):
            cols[k].append(np.ascontiguousarray(v, dtype=np.float32))
    return {k: torch.from_numpy(np.stack(v)).to(device) for k, v in cols.items()}


# --- losses -------------------------------------------------------------------------------------------
def _gauss_window(sigma: float = 1.5, size: int = 11) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


_WINDOW = _gauss_window()


def luma(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def ssim(a: torch.Tensor, b: torch.Tensor, c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> torch.Tensor:
    """Mean luma SSIM (Gaussian window, sigma 1.5, 11x11) of (B,3,H,W) images in [0, 1], per image."""
    a, b = luma(a), luma(b)
    win = _WINDOW.to(a.device)
    blur = lambda x: F.conv2d(F.pad(x, (5, 5, 5, 5), mode="reflect"), win)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return m.mean((1, 2, 3))


def pyramid_l1(a: torch.Tensor, b: torch.Tensor, levels: int = 4) -> torch.Tensor:
    loss = a.new_zeros(())
    for lvl in range(levels):
        if lvl:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        loss = loss + (a - b).abs().mean()
    return loss / levels


def reenact(enc, gen, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Generated crop pasted over the source (what the live compositor shows)."""
    cache = enc(batch["source"], batch["kp_s"], batch["jac_s"])
    image, paste, *_ = gen(*cache, batch["kp_d"], batch["jac_d"])
    return paste * image + (1 - paste) * batch["source"]


def losses(out: torch.Tensor, target: torch.Tensor, ssim_weight: float) -> dict[str, torch.Tensor]:
    l1 = pyramid_l1(out, target)
    s = ssim(out, target).mean()
    return {"loss": l1 + ssim_weight * (1 - s), "l1": (out - target).abs().mean(), "ssim": s}


# --- the loop ----------------------------------------------------------------------------------------
class Progress:
    """A tqdm bar on stderr: step, smoothed loss, speed and ETA; drawn only on a terminal."""

    def __init__(self, total: int, start: int, stream=sys.stderr, enabled: bool | None = None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=start, desc="train", unit="step", file=stream, leave=False,
                         dynamic_ncols=True, disable=None if enabled is None else not enabled)
        self.avg: float | None = None

    def update(self, step: int, loss: float) -> None:
        self.avg = loss if self.avg is None else 0.95 * self.avg + 0.05 * loss
        self._bar.set_postfix_str(f"loss {self.avg:.4f}", refresh=False)
        self._bar.update(step - self._bar.n)

    def write(self, log, line: str) -> None:
        """``log(line)`` with the bar cleared first (so the line does not tear it)."""
        from tqdm import tqdm

        with tqdm.external_write_mode(file=sys.stdout):
            log(line)

    def close(self) -> None:
        self._bar.close()


def fixed_pairs(clips: list[Clip], n: int, seed: int, device="cpu") -> dict[str, torch.Tensor] | None:
    return make_batch(clips, np.random.default_rng([seed, 999_999]), n, False, device) if clips else None


@torch.no_grad()
def validate(enc, gen, batch: dict[str, torch.Tensor] | None, ssim_weight: float) -> dict[str, float]:
    if batch is None:
        return {}
    enc.eval(), gen.eval()
    out = reenact(enc, gen, batch)
    static = batch["source"]
    got = {k: float(v) for k, v in losses(out, batch["driving"], ssim_weight).items()}
    got["l1_static"] = float((static - batch["driving"]).abs().mean())
    got["ssim_static"] = float(ssim(static, batch["driving"]).mean())
    enc.train(), gen.train()
    return got


def _optim_path(out: Path) -> Path:
    return out / "last.optim.safetensors"


def save_checkpoint(out: Path, step: int, enc, gen, opt, cfg: GeneratorConfig, meta: dict) -> Path:
    from safetensors.torch import save_file

    ck = out / "checkpoints" / f"step_{step:06d}.safetensors"
    ck.parent.mkdir(parents=True, exist_ok=True)
    save_weights((enc, gen), cfg, ck, {**meta, "step": step})
    save_weights((enc, gen), cfg, out / "last.safetensors", {**meta, "step": step})
    state = opt.state_dict()
    flat = {f"{i}.{k}": v.contiguous() for i, s in state["state"].items() for k, v in s.items() if torch.is_tensor(v)}
    tmp = _optim_path(out).with_suffix(".tmp")
    save_file(flat, str(tmp), metadata={"step": str(step)})
    tmp.replace(_optim_path(out))
    return ck


def load_checkpoint(out: Path, enc, gen, opt, cfg: GeneratorConfig) -> int:
    """Resume from ``out/last.safetensors`` (verified) and its optimiser state; returns the step."""
    from safetensors import safe_open

    from ..engines.weights import load_weights

    meta = load_weights((enc, gen), cfg, out / "last.safetensors")
    step = int(meta["step"])
    with safe_open(str(_optim_path(out)), "pt") as f:
        if int(f.metadata().get("step", -1)) != step:
            from ..realtime.errors import ModelError
            raise ModelError(f"optimiser state in {out} is not from step {step}", "resume from an intact run")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state = opt.state_dict()
    for key, v in tensors.items():
        i, name = key.split(".", 1)
        state["state"].setdefault(int(i), {})[name] = v
    opt.load_state_dict(state)
    return step


def data_summary(train: list[Clip], val: list[Clip], folder: Path) -> dict:
    return {"folder": str(folder), "train_videos": [c.name for c in train], "val_videos": [c.name for c in val],
            "train_frames": int(sum(len(c.frames) for c in train)), "val_frames": int(sum(len(c.frames) for c in val))}


def train(opts: TrainOptions, log=print) -> dict:
    """Run (or resume) training; returns the last validation metrics."""
    cfg = opts.config if isinstance(opts.config, GeneratorConfig) else get_config(opts.config)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(opts.seed)
    cache = Path(opts.cache) if opts.cache else out / "frames"
    clips = load_clips(Path(opts.data), cache, cfg.image_size, opts.frames_per_video, log=log)
    if len(clips) < 1:
        from ..realtime.errors import InputError
        raise InputError(f"no usable videos (with a face) in {opts.data}", "pass a folder of talking-head videos")
    train_clips, val_clips = split_by_video(clips, opts.val_fraction if len(clips) > 1 else 0.0, opts.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the same loop on a GPU
    val_batch = fixed_pairs(val_clips + opts.extra_val, 16, opts.seed, device)
    enc, gen = build_modules(cfg)
    enc.to(device), gen.to(device)
    enc.train(), gen.train()
    params = [p for p in list(enc.parameters()) + list(gen.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=opts.lr, betas=(0.5, 0.999))
    step = load_checkpoint(out, enc, gen, opt, cfg) if opts.resume and (out / "last.safetensors").exists() else 0
    meta = {"training": {**data_summary(train_clips, val_clips, Path(opts.data)),
                         "options": {k: str(v) for k, v in asdict(opts).items() if k != "extra_val"}}}
    (out / "options.json").write_text(json.dumps(meta, indent=2))
    bar, metrics = Progress(opts.steps, step), {}
    deadline = time.monotonic() + opts.time_limit_min * 60 if opts.time_limit_min > 0 else math.inf
    try:
        while step < opts.steps:
            rng = np.random.default_rng([opts.seed, step])
            for g in opt.param_groups:  # cosine decay to 10%
                g["lr"] = opts.lr * (0.55 + 0.45 * math.cos(math.pi * step / max(opts.steps, 1)))
            got = step_losses(enc, gen, train_clips, rng, opts, device)
            opt.zero_grad(set_to_none=True)
            got["loss"].backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            bar.update(step, float(got["loss"].detach()))
            out_of_time = time.monotonic() > deadline
            if step % opts.checkpoint_every == 0 or step == opts.steps or out_of_time:
                metrics = validate(enc, gen, val_batch, opts.ssim_weight)
                save_checkpoint(out, step, enc, gen, opt, cfg, {**meta, "metrics": metrics})
                bar.write(log, f"step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            if out_of_time:
                bar.write(log, f"time limit of {opts.time_limit_min:g} min reached at step {step}; "
                          "resume with --resume")
                break
    finally:
        bar.close()
    return metrics


def step_losses(enc, gen, clips: list[Clip], rng: np.random.Generator, opts: TrainOptions,
                device="cpu") -> dict[str, torch.Tensor]:
    batch = make_batch(clips, rng, opts.batch, device=device)
    return losses(reenact(enc, gen, batch), batch["driving"], opts.ssim_weight)
