"""The two graphs as torch modules: ``SourceEncoder`` (once per portrait) and ``FrameGenerator`` (per
frame). Their inputs and outputs are exactly those of ``spec.py``, in that order, as tuples."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .layout import KP_INDEX
from .prior import FirstOrderPrior

_LIP_KPS = ("upper_inner_lip", "lower_inner_lip", "upper_lip", "lower_lip")
MOUTH_SHADE = 0.35  # the mouth interior is a darkened lip colour


class SourceEncoder(nn.Module):
    """Portrait crop + its keypoints -> the portrait cache (computed once per portrait)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lip_idx = [KP_INDEX[n] for n in _LIP_KPS]

    def forward(self, source: torch.Tensor, kp: torch.Tensor, jac: torch.Tensor):
        pts = kp[:, self.lip_idx][:, None]  # (B,1,4,2)
        lip = F.grid_sample(source, pts, mode="bilinear", padding_mode="border", align_corners=False)
        mouth = lip.mean(-1, keepdim=True) * MOUTH_SHADE  # (B,3,1,1)
        return source, mouth, kp, jac


class FrameGenerator(nn.Module):
    """Portrait cache + driving keypoints -> (generated crop, paste mask)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.prior = FirstOrderPrior(cfg)

    def forward(self, src_image, src_mouth, kp_s, jac_s, kp_d, jac_d):
        return self.prior(src_image, src_mouth, kp_s, jac_s, kp_d, jac_d)


def build_modules(cfg: GeneratorConfig) -> tuple[SourceEncoder, FrameGenerator]:
    return SourceEncoder(cfg).eval(), FrameGenerator(cfg).eval()
