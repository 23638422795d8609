"""The two graphs as torch modules: ``SourceEncoder`` (once per portrait) and ``FrameGenerator`` (per
frame). Their inputs and outputs are exactly those of ``spec.py``, in that order, as tuples.

The generator is the closed-form first-order warp (``prior.py``) plus FOMM's learned parts
(``network.py``) as residuals that start at zero: with untrained weights the output is the prior's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .layout import KP_INDEX
from .network import LOG_EPS, DenseMotion, FeatureEncoder, ResidualDecoder, resample_flow
from .prior import LUMA_BGR, FirstOrderPrior, make_grid, skin_colour, skin_like

_LIP_KPS = ("upper_inner_lip", "lower_inner_lip", "upper_lip", "lower_lip")
# The mouth interior is the lips' colour darkened to MOUTH_SHADE of their luma, with their chroma raised to the
# power 1 + MOUTH_DEEPEN (a deeper red: a plain darkened pink read as a grey hole; grey lips stay grey)
MOUTH_SHADE, MOUTH_DEEPEN = 0.3, 0.8
# The teeth take the portrait's light and cast: luma TEETH_LUMA + TEETH_LUMA_GAIN x the skin's (at most
# TEETH_LUMA_MAX), tinted by the skin's chroma to the power TEETH_TINT (a black-and-white photo gets grey teeth,
# a warm painting ivory ones, a night shot dim ones).
TEETH_LUMA, TEETH_LUMA_GAIN, TEETH_LUMA_MAX, TEETH_TINT = 0.35, 0.75, 0.85, 0.3


def _luma_and_tint(colour: torch.Tensor, power: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,3,1,1) BGR colour -> (its luma (B,1,1,1), its chroma (colour / luma) to ``power``, scaled to luma 1)."""
    weights = colour.new_tensor(LUMA_BGR).view(1, 3, 1, 1)
    luma = (colour * weights).sum(1, keepdim=True).clamp(min=1e-3)
    tint = (colour / luma).clamp(0.2, 5.0) ** power
    return luma, tint / (tint * weights).sum(1, keepdim=True)


def teeth_colour(skin: torch.Tensor) -> torch.Tensor:
    """(B,3,1,1) skin colour (BGR, 0-1) -> (B,3,1,1) teeth colour under the same light."""
    luma, tint = _luma_and_tint(skin, TEETH_TINT)
    return (tint * torch.clamp(TEETH_LUMA + TEETH_LUMA_GAIN * luma, max=TEETH_LUMA_MAX)).clamp(0.0, 1.0)


def interior_colour(lips: torch.Tensor, skin: torch.Tensor | None = None) -> torch.Tensor:
    """(B,3,1,1) lip colour (BGR, 0-1) -> (B,3,1,1) the colour of the open mouth's interior; with ``skin``, its
    chroma also takes the skin's (the light's cast: pale lips in a warm photo gave a blue-grey hole)."""
    luma, tint = _luma_and_tint(lips, 1.0 + MOUTH_DEEPEN)
    if skin is not None:
        weights = tint.new_tensor(LUMA_BGR).view(1, 3, 1, 1)
        tint = tint * _luma_and_tint(skin, 1.0)[1]
        tint = tint / (tint * weights).sum(1, keepdim=True)
    return (tint * luma * MOUTH_SHADE).clamp(0.0, 1.0)


class SourceEncoder(nn.Module):
    """Portrait crop + its keypoints -> the portrait cache (computed once per portrait)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lip_idx = [KP_INDEX[n] for n in _LIP_KPS]
        self.features = FeatureEncoder(cfg)

    def forward(self, source: torch.Tensor, kp: torch.Tensor, jac: torch.Tensor):
        pts = kp[:, self.lip_idx][:, None]  # (B,1,4,2)
        lip = F.grid_sample(source, pts, mode="bilinear", padding_mode="border", align_corners=False)
        skin = skin_colour(source, kp)
        # (B,3,1,2): the interior (a darkened lip colour), the teeth
        mouth = torch.cat([interior_colour(lip.mean(-1, keepdim=True), skin), teeth_colour(skin)], -1)
        return source, mouth, kp, jac, skin_like(source, kp, self.cfg.motion_size, skin), self.features(source)


class FrameGenerator(nn.Module):
    """Portrait cache + driving keypoints -> (generated crop, paste mask, flow, paint): see
    ``FirstOrderPrior.forward``. The learned residual lives in the generated crop only, so with weights the
    compositor pastes the crop.

    ``learned=False`` (no weights to load) runs the closed-form prior alone (the learned parts would add
    exactly zero, so they are not computed; the graph keeps the same inputs and parameters), and its first
    output is then not the crop but the paint premultiplied by its alpha (``FirstOrderPrior.paint_layer``):
    the compositor samples the full-resolution portrait with the flow and lays the paint over it."""

    def __init__(self, cfg: GeneratorConfig, learned: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.learned = learned
        self.prior = FirstOrderPrior(cfg)
        self.dense_motion = DenseMotion(cfg)
        self.decoder = ResidualDecoder(cfg)
        self.pool = cfg.image_size // cfg.motion_size
        self.pool_exact = cfg.image_size == self.pool * cfg.motion_size
        self.register_buffer("grid_f", make_grid(cfg.image_size // 2 ** cfg.num_down_blocks), persistent=False)

    def _small(self, image: torch.Tensor) -> torch.Tensor:
        """The portrait at motion size (average pooling when the sizes divide, else bilinear)."""
        if self.pool_exact:
            return F.avg_pool2d(image, self.pool) if self.pool > 1 else image
        m = self.cfg.motion_size
        return F.interpolate(image, size=(m, m), mode="bilinear", align_corners=False)

    def forward(self, src_image, src_mouth, kp_s, jac_s, src_skin, src_features, kp_d, jac_d):
        prior = self.prior
        if not self.learned:  # the closed form: the compositor warps the full-resolution portrait with the flow
            paint, mask, flow, alpha = prior.paint_layer(src_image, src_mouth, kp_s, jac_s, kp_d, jac_d, src_skin)
            return paint + 0.0 * src_features[:, :1, :1, :1].mean(), mask, flow, alpha  # keeps the input in the graph
        motions, weights = prior.motions(kp_s, jac_s, kp_d, jac_d, src_skin)
        src_small = self._small(src_image)
        logits, occ_res = self.dense_motion(src_small, motions, weights, kp_s, kp_d, prior.grid_m)
        log_w = torch.log(torch.clamp(weights, min=0.0) + LOG_EPS)
        # softmax(log w + logits), plus the constant w - softmax(log w) (|.| < 1e-6) that makes it exactly
        # the prior's weights while the logits are zero
        mask = torch.softmax(log_w + logits, 1) + (weights - torch.softmax(log_w, 1))
        flow = prior.blend(motions, mask)
        premultiplied, filled = prior.paint(src_image, src_mouth, kp_s, jac_s, kp_d, jac_d, flow)
        image = prior.over(prior.warp(src_image, flow), premultiplied, filled)
        occlusion = torch.clamp(1.0 - occ_res, 0.0, 1.0)
        feat_flow = resample_flow(flow, prior.grid_m, self.grid_f)
        feats = F.grid_sample(src_features, feat_flow, mode="bilinear", padding_mode="border", align_corners=False)
        if occlusion.shape[-1] != feats.shape[-1]:
            occlusion = F.interpolate(occlusion, size=feats.shape[-2:], mode="bilinear", align_corners=False)
        residual = self.decoder(feats * occlusion, image)
        return ((image + residual).clamp(0.0, 1.0), torch.maximum(prior.upsample(prior.moved(flow)), filled),
                flow, filled)


def build_modules(cfg: GeneratorConfig, learned: bool = True) -> tuple[SourceEncoder, FrameGenerator]:
    """The two graphs. ``learned=False`` when no weights will be loaded: the generator is then the
    closed-form prior alone (same output as zero-initialised learned parts, a fraction of the cost)."""
    return SourceEncoder(cfg).eval(), FrameGenerator(cfg, learned).eval()
