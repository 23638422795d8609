"""The closed-form first-order warp (FOMM's motion model, with masks from keypoint geometry).

Backward flow at output pixel ``z`` (normalised crop coordinates, ``align_corners=False``) is a blend
of K + 2 motions:

- ``0`` background: identity, except where ``z`` falls inside the portrait's own head (the head has
  moved away and uncovered background): there the sample moves against the head's displacement, out
  past the head edge, so the uncovered area shows background instead of a ghost of the head;
- ``1`` head (keypoint 0): one affine motion for the whole head, hair included, moving as one piece;
- ``2..K`` local keypoints: FOMM's first-order motions ``kp_s + J_s J_d^-1 (z - kp_d)``.

Weights: the head region (an egg-shaped area in the head's template frame, carried by the head motion)
separates background from head; inside it, local Gaussians of the keypoints take over from the head
motion. The flow is computed at ``motion_size`` and upsampled; the portrait is sampled once at
``image_size`` with 2-D ``grid_sample``. The mouth interior that the driver opens but the portrait
keeps closed is filled with a shaded mouth (teeth band, dark interior) instead of stretched lips.

Everything here is exportable to ONNX opset 17: closed-form 2x2 inverses, no ``torch.inverse``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .layout import KP_INDEX, SIGMAS

EPS = 1e-6
TEETH_BGR = (0.80, 0.84, 0.86)
BG_REFLECT_MARGIN = 2.5  # uncovered background is reflected from this many edge widths outside the old head
BG_UNCOVER_GAIN = 2.0  # how fast the reflection takes over as the old head is uncovered


def inv2x2(m: torch.Tensor) -> torch.Tensor:
    """Inverse of (..., 2, 2) matrices with the determinant kept away from zero."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    det = torch.where(det.abs() < EPS, torch.full_like(det, EPS), det)
    inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return inv / det[..., None, None]


def apply2x2(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B,K,2,2) x (B,K,H,W,2) -> (B,K,H,W,2)."""
    return torch.einsum("bkij,bkhwj->bkhwi", m, v)


def make_grid(side: int) -> torch.Tensor:
    """(1, side, side, 2) pixel centres in [-1, 1], x then y (``align_corners=False``)."""
    t = (torch.arange(side, dtype=torch.float32) + 0.5) / side * 2 - 1
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], -1)[None]


class FirstOrderPrior(nn.Module):
    """Closed-form part of the generator. The learned network (``model.py``) adds residuals to the mask
    logits and to the image; with those residuals at zero, it is exactly this module."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("grid_m", make_grid(cfg.motion_size), persistent=False)
        self.register_buffer("grid_s", make_grid(cfg.image_size), persistent=False)
        # the mouth is small: its shading is computed at twice the motion size
        self.register_buffer("grid_mouth", make_grid(min(cfg.image_size, 2 * cfg.motion_size)), persistent=False)
        self.register_buffer("sigmas", torch.from_numpy(SIGMAS[1:].copy()), persistent=False)
        self.register_buffer("teeth", torch.tensor(TEETH_BGR).view(1, 3, 1, 1), persistent=False)
        self.i_ui, self.i_li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
        self.i_rc, self.i_lc = KP_INDEX["r_mouth_corner"], KP_INDEX["l_mouth_corner"]

    # --- region of the head, in the head's template frame -------------------------------------
    def _head_frame(self, p: torch.Tensor, kp0: torch.Tensor, jinv0: torch.Tensor) -> torch.Tensor:
        """Points p (B,H,W,2) in the head's template frame (B,H,W,2)."""
        return torch.einsum("bij,bhwj->bhwi", jinv0, p - kp0[:, None, None, :])

    def _radius(self, u: torch.Tensor) -> torch.Tensor:
        """Elliptic 'radius' of template-frame points u (B,H,W,2): 1 on the head edge, egg-shaped."""
        cfg = self.cfg
        half_h = torch.where(u[..., 1] < 0, torch.full_like(u[..., 1], cfg.head_up),
                             torch.full_like(u[..., 1], cfg.head_down))
        return torch.sqrt((u[..., 0] / cfg.head_half_width) ** 2 + (u[..., 1] / half_h) ** 2 + EPS)

    def _head_radius(self, p: torch.Tensor, kp0: torch.Tensor, jinv0: torch.Tensor) -> torch.Tensor:
        """Elliptic 'radius' of points p (B,H,W,2) in the head template frame (1 = head edge)."""
        return self._radius(self._head_frame(p, kp0, jinv0))

    def _soft(self, r: torch.Tensor, at: float = 1.0, width: float | None = None) -> torch.Tensor:
        return torch.sigmoid((at - r) / (width or self.cfg.head_edge))

    def _uncovered(self, z: torch.Tensor, h_d: torch.Tensor, kp0: torch.Tensor, jac0: torch.Tensor,
                   jinv0: torch.Tensor) -> torch.Tensor:
        """Background motion: identity, except where the portrait's own head is no longer covered by the
        driven head. There the sample is reflected across the portrait's head edge (radially, in the head
        frame), so the uncovered area continues the background around the head instead of showing a ghost
        of the old head. Exactly the identity while the head does not move."""
        u = self._head_frame(z, kp0, jinv0)
        r = self._radius(u)
        h_s = self._soft(r)
        edge = 1.0 + BG_REFLECT_MARGIN * self.cfg.head_edge  # outside the soft edge of the old head
        scale = (edge + (edge - r).clamp(min=0.0)) / r.clamp(min=0.05)
        far = kp0[:, None, None, :] + torch.einsum("bij,bhwj->bhwi", jac0, u * scale[..., None])
        share = torch.clamp(BG_UNCOVER_GAIN * (h_s - h_d), 0.0, 1.0)
        return z + share[..., None] * (far - z)

    # --- motions and their prior weights ---------------------------------------------------------
    def motions(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> motions (B, K+1, M, M, 2): [background, head, local...]; weights (B, K+1, M, M) summing
        to 1; paste (B, 1, M, M): where the output differs from the portrait."""
        z = self.grid_m  # (1,M,M,2)
        a = torch.matmul(jac_s, inv2x2(jac_d))  # (B,K,2,2)
        rel = z[:, None] - kp_d[:, :, None, None, :]  # (B,K,M,M,2)
        t = kp_s[:, :, None, None, :] + apply2x2(a, rel)  # first-order motions, head first
        jinv0 = inv2x2(jac_s[:, 0])
        # head region in output coordinates: the portrait's head region carried by the head motion
        r_out = self._head_radius(t[:, 0], kp_s[:, 0], jinv0)
        h = self._soft(r_out)
        zb = z.expand(kp_s.shape[0], -1, -1, -1)
        bg = self._uncovered(zb, h, kp_s[:, 0], jac_s[:, 0], jinv0)
        r_src = self._head_radius(zb, kp_s[:, 0], jinv0)
        # local keypoints take over from the head motion near their driving position
        scale_d = torch.sqrt(torch.abs(jac_d[:, 0, 0, 0] * jac_d[:, 0, 1, 1] - jac_d[:, 0, 0, 1] * jac_d[:, 0, 1, 0]) + EPS)
        sig = self.sigmas[None, :] * scale_d[:, None]  # (B,K-1)
        d2 = (rel[:, 1:] ** 2).sum(-1)  # (B,K-1,M,M)
        g = torch.exp(-d2 / (2 * sig[:, :, None, None] ** 2))
        total = g.sum(1, keepdim=True)
        g = g / torch.clamp(total, min=1.0)
        w_local = h[:, None] * g
        w_head = h[:, None] * (1 - g.sum(1, keepdim=True))
        weights = torch.cat([1 - h[:, None], w_head, w_local], 1)
        motions = torch.cat([bg[:, None], t], 1)
        paste = torch.maximum(self._soft(r_out, at=1.3, width=0.08), self._soft(r_src, at=1.3, width=0.08))
        return motions, weights, paste[:, None]

    @staticmethod
    def blend(motions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """(B,K+1,M,M,2) x (B,K+1,M,M) -> flow (B,M,M,2)."""
        return (motions * weights[..., None]).sum(1)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """(B,C,M,M) -> (B,C,S,S), bilinear."""
        s = self.cfg.image_size
        if x.shape[-1] == s:
            return x
        return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)

    def warp(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Sample image (B,C,S,S) at flow (B,M,M,2), upsampled to S."""
        disp = (flow - self.grid_m).permute(0, 3, 1, 2)  # upsample the displacement, not the flow
        flow_s = self.grid_s + self.upsample(disp).permute(0, 2, 3, 1)
        return F.grid_sample(image, flow_s, mode="bilinear", padding_mode="border", align_corners=False)

    # --- the mouth the portrait does not show ---------------------------------------------------
    def mouth(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
              src_mouth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (fill weight (B,1,S,S), fill colour (B,3,S,S)) for the newly opened mouth interior."""
        ui, li, rc, lc = kp_d[:, self.i_ui], kp_d[:, self.i_li], kp_d[:, self.i_rc], kp_d[:, self.i_lc]
        gap_d = torch.linalg.vector_norm(li - ui, dim=-1)
        det = lambda j: torch.abs(j[:, 0, 0, 0] * j[:, 0, 1, 1] - j[:, 0, 0, 1] * j[:, 0, 1, 0])  # noqa: E731
        ratio = torch.sqrt(det(jac_d) / (det(jac_s) + EPS) + EPS)
        gap_s = torch.linalg.vector_norm(kp_s[:, self.i_li] - kp_s[:, self.i_ui], dim=-1) * ratio
        opened = torch.clamp((gap_d - gap_s) / (gap_d + 1e-3), 0.0, 1.0)  # share of the gap that is new
        centre = 0.5 * (ui + li)
        across = lc - rc
        width = torch.linalg.vector_norm(across, dim=-1)
        e1 = across / (width[:, None] + EPS)
        e2 = torch.stack([-e1[:, 1], e1[:, 0]], -1)
        d = self.grid_mouth - centre[:, None, None, :]  # shading fields at low resolution, then upsampled
        u = (d * e1[:, None, None, :]).sum(-1) / (0.42 * width[:, None, None] + EPS)
        v = (d * e2[:, None, None, :]).sum(-1) / (0.5 * gap_d[:, None, None] + 1e-3)
        # v runs from -1 at the upper inner lip to +1 at the lower one
        v = v * torch.sign(((li - ui) * e2).sum(-1))[:, None, None]
        r = torch.sqrt(u * u + v * v + EPS)
        inside = torch.sigmoid((1.0 - r) / 0.12) * opened[:, None, None]
        teeth = torch.sigmoid((-0.25 - v) / 0.08) * torch.sigmoid((0.75 - u.abs()) / 0.1) * 0.85
        depth = torch.clamp(1.0 - 0.5 * r, 0.3, 1.0)
        fields = self.upsample(torch.stack([inside, teeth, depth], 1))
        dark = src_mouth * fields[:, 2:3]
        colour = dark + fields[:, 1:2] * (self.teeth - dark)
        fill = fields[:, 0:1]
        return fill, colour

    def forward(self, src_image: torch.Tensor, src_mouth: torch.Tensor, kp_s: torch.Tensor, jac_s: torch.Tensor,
                kp_d: torch.Tensor, jac_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        motions, weights, paste = self.motions(kp_s, jac_s, kp_d, jac_d)
        image = self.warp(src_image, self.blend(motions, weights))
        fill, colour = self.mouth(kp_s, jac_s, kp_d, jac_d, src_mouth)
        image = image + fill * (colour - image)
        return image.clamp(0.0, 1.0), self.upsample(paste)
