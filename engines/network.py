"""The learned parts of the first-order motion model (Siarohin et al. 2019), as residuals on the prior.

- ``DenseMotion``: FOMM's dense motion network. An hourglass over the heatmap differences of the
  keypoints, the source deformed by each of the K+1 prior motions and the prior's own weights ->
  residual logits over the K+1 motions (``softmax(log(w_prior + eps) + logits)``) and an occlusion
  residual (``occlusion = clamp(1 - r, 0, 1)``).
- ``FeatureEncoder`` / ``ResidualDecoder``: FOMM's occlusion-aware generator split in two. The encoder
  runs once per portrait (its output is the cached ``src_features``); per frame the features are warped
  with the blended flow, multiplied by the occlusion map, passed through bottleneck ResBlocks and
  decoded to an image residual that is added to the prior's warped image.

The layers whose output enters the prior (mask logits, occlusion residual, image residual) start at
zero, so an untrained network is exactly ``FirstOrderPrior``. No normalisation layers: training runs
with small batches on a CPU, and plain conv + ReLU exports to the leanest ONNX graph.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig

HEATMAP_VARIANCE = 0.01  # FOMM's keypoint heatmap variance, normalised coordinates
LOG_EPS = 1e-8  # prior weights are floored at this before the log (keeps softmax(log w) == w)


def conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def zero_(layer: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def width(be: int, mx: int, i: int) -> int:
    return min(mx, be * 2 ** i)


class Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(conv(cin, cout), nn.ReLU(inplace=True), nn.AvgPool2d(2))


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")))


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv(c, c), conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Hourglass(nn.Module):
    """FOMM's hourglass: down blocks, then up blocks with skip connections; output has
    ``block_expansion + in_features`` channels at the input resolution."""

    def __init__(self, in_features: int, be: int, mx: int, num_blocks: int) -> None:
        super().__init__()
        self.down = nn.ModuleList(Down(in_features if i == 0 else width(be, mx, i), width(be, mx, i + 1))
                                  for i in range(num_blocks))
        self.up = nn.ModuleList(Up((1 if i == num_blocks - 1 else 2) * width(be, mx, i + 1), width(be, mx, i))
                                for i in reversed(range(num_blocks)))
        self.out_filters = be + in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for block in self.down:
            outs.append(block(outs[-1]))
        out = outs.pop()
        for block in self.up:
            out = torch.cat([block(out), outs.pop()], 1)
        return out


def heatmaps(kp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Gaussian heatmaps (B,K,M,M) of keypoints (B,K,2) on a grid (1,M,M,2)."""
    d2 = ((grid[:, None] - kp[:, :, None, None, :]) ** 2).sum(-1)
    return torch.exp(-0.5 * d2 / HEATMAP_VARIANCE)


class DenseMotion(nn.Module):
    """Heatmap differences + sparsely deformed sources + prior weights -> (mask logits, occlusion residual)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        k1 = cfg.num_kp + 1
        self.hourglass = Hourglass(k1 * 5, cfg.dm_block_expansion, cfg.dm_max_features, cfg.dm_num_blocks)
        self.mask = zero_(conv(self.hourglass.out_filters, k1))
        self.occlusion = zero_(conv(self.hourglass.out_filters, 1))

    def forward(self, src_small: torch.Tensor, motions: torch.Tensor, weights: torch.Tensor,
                kp_s: torch.Tensor, kp_d: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, k1, m = motions.shape[0], motions.shape[1], motions.shape[2]
        heat = heatmaps(kp_d, grid) - heatmaps(kp_s, grid)  # (B,K,M,M)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], 1)  # background: no heatmap
        src = src_small[:, None].expand(-1, k1, -1, -1, -1).reshape(b * k1, 3, m, m)
        deformed = F.grid_sample(src, motions.reshape(b * k1, m, m, 2), mode="bilinear",
                                 padding_mode="border", align_corners=False).reshape(b, k1 * 3, m, m)
        h = self.hourglass(torch.cat([heat, weights, deformed], 1))
        return self.mask(h), self.occlusion(h)


class FeatureEncoder(nn.Module):
    """Portrait crop -> features at ``image_size / 2**num_down_blocks`` (cached once per portrait)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        be, mx = cfg.block_expansion, cfg.max_features
        self.first = conv(3, be, 7)
        self.down = nn.Sequential(*(Down(width(be, mx, i), width(be, mx, i + 1)) for i in range(cfg.num_down_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.relu(self.first(x)))


class ResidualDecoder(nn.Module):
    """Warped, occluded features (+ the prior's image) -> image residual (zero when untrained)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        be, mx, nd = cfg.block_expansion, cfg.max_features, cfg.num_down_blocks
        c = width(be, mx, nd)
        skip = int(math.log2(cfg.residual_stride))  # up blocks left out: the residual is upsampled instead
        if 2 ** skip != cfg.residual_stride or skip > nd:
            raise ValueError(f"residual_stride must be a power of two <= 2**num_down_blocks, got {cfg.residual_stride}")
        self.stride = cfg.residual_stride
        self.bottleneck = nn.Sequential(*(ResBlock(c) for _ in range(cfg.num_bottleneck_blocks)))
        self.up = nn.Sequential(*(Up(width(be, mx, i + 1), width(be, mx, i)) for i in reversed(range(skip, nd))))
        self.final = zero_(conv(width(be, mx, skip) + 3, 3, 7))

    def forward(self, features: torch.Tensor, prior_image: torch.Tensor) -> torch.Tensor:
        x = self.up(self.bottleneck(features))
        small = F.avg_pool2d(prior_image, self.stride) if self.stride > 1 else prior_image
        res = self.final(torch.cat([x, small], 1))
        if self.stride > 1:
            res = F.interpolate(res, scale_factor=float(self.stride), mode="bilinear", align_corners=False)
        return res


def resample_flow(flow: torch.Tensor, grid_from: torch.Tensor, grid_to: torch.Tensor) -> torch.Tensor:
    """A flow (B,M,M,2) on one grid resampled to another size by upsampling its displacement."""
    if flow.shape[1] == grid_to.shape[1]:
        return flow
    disp = (flow - grid_from).permute(0, 3, 1, 2)
    disp = F.interpolate(disp, size=grid_to.shape[1:3], mode="bilinear", align_corners=False)
    return grid_to + disp.permute(0, 2, 3, 1)


def conv_macs(module: nn.Module, *args: torch.Tensor) -> int:
    """Multiply-accumulates of the convolutions of one forward pass (the rest is a few percent)."""
    total = [0]

    def hook(mod: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        kh, kw = mod.kernel_size
        total[0] += out.numel() * (mod.in_channels // mod.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            module(*args)
    finally:
        for h in handles:
            h.remove()
    return total[0]
