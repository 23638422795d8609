"""The closed-form first-order warp (FOMM's motion model, with masks from keypoint geometry).

Backward flow at output pixel ``z`` (normalised crop coordinates, ``align_corners=False``) is a blend
of K + 2 motions:

- ``0`` background and body: identity, except where the portrait's own head is no longer covered by the
  driven head (uncovered background, above the jaw line): there the sample is taken further along the head
  motion, which for an uncovered point lies outside the old head, so it shows background instead of a ghost
  of the head; and below the driven chin, in a column as wide as the jaw and then the neck, the head motion
  fades out (smoothstep) to the identity at the portrait's shoulders: the neck stretches or shortens as the
  head rises or sinks, and the clothes below the shoulders do not move at all;
- ``1`` head (keypoint 0): one motion for the whole head, hair included, moving as one piece: affine on
  the face, rotation and width scale only outside it (the hair does not stretch when the jaw drops);
- ``2..K`` local keypoints: FOMM's first-order motions ``kp_s + J_s J_d^-1 (z - kp_d)``.

Weights: the head region (an egg-shaped area in the head's template frame, carried by the head motion,
with a wide compact edge over the hair and a narrow one below the jaw) separates background from head; inside it, local Gaussians of the keypoints take over from the head
motion, the nearest one dominating where they overlap; an iris fades out as its eye closes. The flow is
computed at ``motion_size`` and upsampled; the portrait is sampled once at ``image_size`` with 2-D
gathers (bilinear). The mouth interior that the driver opens but the portrait keeps closed is filled with a
shaded mouth (upper teeth in the portrait's light, a warm dark interior with its roof in shadow and, on a wide
opening, a tongue over its floor) instead of stretched lips; a portrait
that shows its teeth keeps them (on a wide opening the weights inside its mouth go to the upper inner lip's
motion, and only the new share of the gap is painted dark). Fields that are affine in the pixel position are
built as a row plus a column (``affine_field``); the mouth and each lid are computed on a window of their grid
around the driven mouth and eye and placed on it (``grid_window``, ``place_windows``). The paste mask covers
only what moves by more than about half a pixel (and the mouth fill), so still parts keep the portrait's full
resolution.

Everything here is exportable to ONNX opset 17: closed-form 2x2 inverses, no ``torch.inverse``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .layout import GAP_BASE, GAP_SLOPE, KP_INDEX, SIGMAS

EPS = 1e-6
# inner-lip gap / mouth width (lip keypoints) above which the portrait shows its own mouth interior
OWN_MOUTH_FROM, OWN_MOUTH_RAMP = 0.08, 0.06
# ... and keeps its own teeth: only the share of the gap that the driver opens further is painted (dark, no
# painted teeth), above the lower lip, with this soft edge (in v, below)
OWN_MOUTH_BAND_EDGE = 0.12
OWN_MOUTH_FLOW_EDGE = 0.15  # the edge, in r, of the interior that the flow carries with the upper lip
# Only from a new opening of 2 flow pixels (fully from 3): below that, the flow's soft steps (a flow pixel is
# 5 crop pixels at 48) cannot keep the teeth, the band and the lower lip apart (the lower lip was carried with
# the teeth above a dark band on the chin), and the warp's small stretch looks natural.
OWN_MOUTH_MIN_FLOW_PX = 2.0
# The painted mouth interior, in the mouth's own coordinates: u across (1 = MOUTH_HALF_WIDTH mouth widths from
# the centre), v down (-1 at the upper inner lip, +1 at the lower one), r = |(u, v)|.
MOUTH_HALF_WIDTH = 0.42    # of the corner-to-corner width
MOUTH_EDGE = 0.06          # softness of the interior's edge, in r
# The upper teeth hang from the upper inner lip: TEETH_HEIGHT mouth widths tall (a physical size: they do not
# grow with the opening), at most TEETH_MAX_SHARE of the gap, with an edge TEETH_EDGE mouth widths soft; inside
# |u| < TEETH_HALF_U, darker towards the corners (1 - TEETH_SIDE_SHADE u^2) and in the upper lip's shadow
# (TEETH_LIP_SHADOW at the lip, gone TEETH_SHADOW_DEPTH of their height below it). Their colour is the
# portrait's (``model.SourceEncoder``).
TEETH_HEIGHT, TEETH_MAX_SHARE, TEETH_EDGE = 0.13, 0.6, 0.012
TEETH_HALF_U, TEETH_SIDE_EDGE, TEETH_SIDE_SHADE = 0.75, 0.1, 0.45
TEETH_LIP_SHADOW, TEETH_SHADOW_DEPTH = 0.25, 0.5
TEETH_OPACITY = 0.9
# ... and only once the new gap is TEETH_FROM_GAP mouth widths tall (fully from TEETH_FROM_GAP + TEETH_GAP_RAMP): in
# a slit they were a thin light line, which the warp's lips (about 0.7 of the driven opening) left beside them
TEETH_FROM_GAP, TEETH_GAP_RAMP = 0.03, 0.05
# The interior's light (times its colour, ``src_mouth``): the roof of the mouth, under the upper lip, in shadow
# (ROOF_SHADE), lighter towards the floor; darker towards the corners (1 - CORNER_SHADE u^2). On a wide opening
# (inner-lip gap over TONGUE_FROM mouth widths, fully from TONGUE_FROM + TONGUE_RAMP) the tongue shows over the
# floor: a dome TONGUE_HALF_U wide and TONGUE_HEIGHT tall (in u and v) standing on the lower lip, TONGUE_GAIN
# times the interior's colour with TONGUE_SATURATION of its chroma (the interior's colour is the lips' deepened),
# its luma at most TONGUE_LUMA_MAX (it is inside the mouth's shade, however pale the lips).
# Before, the light fell off from the centre outwards (1 - 0.5 r): a dark middle in a lighter rim, a grey disc.
ROOF_SHADE, CORNER_SHADE = 0.45, 0.5
TONGUE_FROM, TONGUE_RAMP, TONGUE_HALF_U, TONGUE_HEIGHT, TONGUE_EDGE = 0.2, 0.15, 0.8, 0.75, 0.12
TONGUE_GAIN, TONGUE_SATURATION, TONGUE_LUMA_MAX = 2.0, 0.6, 0.35
LUMA_BGR = (0.114, 0.587, 0.299)
MOUTH_GRID = 256  # side of the grid the mouth is drawn on (at most the crop's side, which needs no upsampling)
# The mouth and each lid are computed on a window of their grid around the driven mouth and eye, not on the whole
# grid (most of the closed-form graph's time went to those grids): MOUTH_WINDOW mouth-grid pixels (the mouth's
# paint reaches at most about 33 from its centre on the shared portraits and drivers), LID_WINDOW lid-grid
# pixels (a lid about 10); outside them the paint is zero. Their outer WINDOW_FADE_PX pixels fade out, so
# a mouth larger than its window is cut softly, never along a straight edge.
MOUTH_WINDOW, LID_WINDOW, WINDOW_FADE_PX = 128, 32, 3.0
# face oval in the head's template frame (for the hair, which moves rigidly outside it)
FACE_HALF_WIDTH, FACE_HALF_HEIGHT, FACE_CENTRE_Y = 0.85, 1.0, 0.08
HAIR_FROM = 1.1  # face-oval radius from which the head motion is rigid (rotation and scale only)
PASTE_MIN_PX = 0.5  # displacement (pixels of the generated crop) above which the generated crop is pasted
LOCAL_SHARPNESS = 4.0  # exponent of the competition between overlapping local keypoints
# The face shift (``_face_shift``): the local keypoints' displacements relative to the head, interpolated over
# the face with a Gaussian-weighted mean COARSE_SIGMA template units wide, faded out at face-oval radius
# COARSE_FACE_TO (softness COARSE_FACE_EDGE)
COARSE_SIGMA = 0.35
COARSE_FACE_TO, COARSE_FACE_EDGE = 1.0, 0.06
BG_SHIFT = 1.4  # uncovered background is sampled this far along the head motion (past the old head's soft edge)
BG_UNCOVER_GAIN = 2.0
# ... only where the portrait had its face (out to this face-oval radius, with a soft edge of this width) or
# something skin-coloured (an ear, a bare neck beside the oval): within SKIN_LIKE_LUMA of the skin's luma (in
# log ratio) and SKIN_LIKE_CHROMA of its chromaticity (colour / its mean), soft edges SKIN_LIKE_EDGES
UNCOVER_FACE_TO, UNCOVER_FACE_EDGE = 1.1, 0.08
SKIN_LIKE_LUMA, SKIN_LIKE_CHROMA, SKIN_LIKE_EDGES = 0.45, 0.25, (0.08, 0.05)
SKIN_EPS = 1e-3  # added to both lumas: a black pixel is far from any skin but still a number
SKIN_KPS = ("r_cheek", "l_cheek", "forehead", "nose")
SKIN_POOL = 8  # skin is read from the portrait averaged over 8x8 pixels, not from one pixel
# The lid that comes down over an eye the portrait keeps open (template units and shares): an ellipse LID_HALF_WIDTH
# wide and the portrait's opening + LID_MARGIN tall, with a soft LID_EDGE; fully closed (closure 1) once the
# driven opening is below 1 - 0.1 - LID_CLOSED_AT of the portrait's; its edge then reaches LID_OVERSHOOT past
# the lower lid, so nothing of the eye shows through. Its skin is the portrait's LID_SKIN_LIFT lid gaps above the
# eye; the lash line at the lid's edge darkens it by LASH_DARKEN.
LID_HALF_WIDTH, LID_MARGIN, LID_EDGE = 0.2, 0.08, 0.1
LID_CLOSED_AT, LID_OVERSHOOT, LID_SKIN_LIFT, LASH_DARKEN = 0.65, 1.35, 1.1, 0.5
LID_GRID = 128  # side of the grid the lids are drawn on (at most the crop's side)
# The neck (template units of the portrait's head frame): below the driven chin, the head motion fades out
# through a column of NECK_HALF_WIDTH to the identity at SHOULDERS_AT, so the body stays still and the
# neck stretches or shortens smoothly when the head moves up or down (at least NECK_MIN long).
CHIN_AT, SHOULDERS_AT, NECK_MIN = 1.08, 1.45, 0.5
JAW_HALF_WIDTH, NECK_HALF_WIDTH, NECK_EDGE = 0.85, 0.6, 0.12  # the column narrows from the jaw to the neck
# width of the head region's edge: over the hair on top, at the sides (in a close-up the sides are the
# background, which must not bend or zoom with the head), and below the jaw
HAIR_EDGE, SIDE_EDGE, NECK_EDGE_LOW = 0.2, 0.08, 0.08
JAW_LINE = 0.75  # below this, what the head uncovers is neck (stretched), not background shifted along the head


def inv2x2(m: torch.Tensor) -> torch.Tensor:
    """Inverse of (..., 2, 2) matrices with the determinant kept away from zero."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    det = torch.where(det.abs() < EPS, torch.full_like(det, EPS), det)
    inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return inv / det[..., None, None]


def head_scale(jac: torch.Tensor) -> torch.Tensor:
    """(B,K,2,2) Jacobians -> (B,) linear scale of the head's (keypoint 0)."""
    j = jac[:, 0]
    return torch.sqrt(torch.abs(j[:, 0, 0] * j[:, 1, 1] - j[:, 0, 1] * j[:, 1, 0]) + EPS)


def bilinear_sample(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``F.grid_sample(image, grid, "bilinear", padding_mode="border", align_corners=False)`` for one image
    (B = 1), as one gather of the four neighbours from the flattened image. The same numbers as GridSample,
    but ONNX Runtime's CPU GridSample kernel took 6.2 ms for a 256x256 crop on 2 cores, this 2.9 ms."""
    b, c, h, w = image.shape
    if b != 1 or grid.shape[0] != 1:
        raise ValueError(f"bilinear_sample: expected one image and one grid, got {b} and {grid.shape[0]} "
                         "(batches: F.grid_sample, as FirstOrderPrior._sample does)")
    gx = ((grid[0, ..., 0] + 1) * w - 1) * 0.5  # pixel coordinates
    gy = ((grid[0, ..., 1] + 1) * h - 1) * 0.5
    gx = gx.clamp(0, w - 1)  # border padding: clamp the coordinates
    gy = gy.clamp(0, h - 1)
    x0, y0 = gx.floor(), gy.floor()
    wx, wy = gx - x0, gy - y0
    x0i, y0i = x0.long(), y0.long()
    x1i, y1i = (x0i + 1).clamp(max=w - 1), (y0i + 1).clamp(max=h - 1)
    r0, r1 = y0i * w, y1i * w
    idx = torch.stack([r0 + x0i, r0 + x1i, r1 + x0i, r1 + x1i]).reshape(-1)
    flat = image.reshape(c, h * w)  # B = 1
    if idx.shape[0] >= h * w:  # as many samples as pixels: transposed, each gather takes a contiguous row
        vals = flat.transpose(0, 1)[idx].transpose(0, 1)
    else:  # a few samples (the lids): gathered per channel, the image is not transposed
        vals = flat[:, idx]
    vals = vals.reshape((c, 4) + tuple(gx.shape))  # one gather for the 4 neighbours
    wts = torch.stack([(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy])
    return (vals * wts[None]).sum(1)[None]


def face_radius(u: torch.Tensor) -> torch.Tensor:
    """Elliptic radius of template-frame points u (B,H,W,2) in the face oval (1 on its edge)."""
    dy = u[..., 1] - FACE_CENTRE_Y
    return torch.sqrt((u[..., 0] / FACE_HALF_WIDTH) ** 2 + (dy / FACE_HALF_HEIGHT) ** 2 + EPS)


def skin_colour(source: torch.Tensor, kp: torch.Tensor) -> torch.Tensor:
    """The portrait's skin colour (B,3,1,1): the mean, over the cheeks, forehead and nose keypoints, of the
    portrait (B,3,S,S) averaged over ``SKIN_POOL`` pixels."""
    idx = [KP_INDEX[n] for n in SKIN_KPS]
    pooled = F.avg_pool2d(source, SKIN_POOL)
    return F.grid_sample(pooled, kp[:, idx][:, None], mode="bilinear", padding_mode="border",
                         align_corners=False).mean(-1, keepdim=True)


def skin_like(src_image: torch.Tensor, kp_s: torch.Tensor, motion_size: int, skin: torch.Tensor | None = None
              ) -> torch.Tensor:
    """(B,M,M), M = ``motion_size``: 1 where the portrait (B,3,S,S), averaged to motion size, has the colour of
    its own skin (``skin``, from ``skin_colour`` when not given) in luma and chromaticity, 0 elsewhere (hair, most
    backgrounds); it depends on the portrait only (part of the portrait cache). See ``FirstOrderPrior._uncovered``."""
    m = motion_size
    pool = max(1, src_image.shape[-1] // m)
    small = F.avg_pool2d(src_image, pool) if pool > 1 else src_image
    if small.shape[-1] != m:
        small = F.interpolate(small, size=(m, m), mode="bilinear", align_corners=False)
    if skin is None:
        skin = skin_colour(src_image, kp_s)
    lum_s, lum = skin.mean(1, keepdim=True) + SKIN_EPS, small.mean(1, keepdim=True) + SKIN_EPS
    luma_off = torch.log(lum / lum_s).abs()
    chroma_off = torch.linalg.vector_norm(small / lum - skin / lum_s, dim=1, keepdim=True)
    like = (torch.sigmoid((SKIN_LIKE_LUMA - luma_off) / SKIN_LIKE_EDGES[0])
            * torch.sigmoid((SKIN_LIKE_CHROMA - chroma_off) / SKIN_LIKE_EDGES[1]))
    return F.avg_pool2d(like, 3, stride=1, padding=1, count_include_pad=False)[:, 0]


def make_line(side: int) -> torch.Tensor:
    """(side,) pixel centres in [-1, 1] along one axis (``align_corners=False``)."""
    return (torch.arange(side, dtype=torch.float32) + 0.5) / side * 2 - 1


def make_grid(side: int) -> torch.Tensor:
    """(1, side, side, 2) pixel centres in [-1, 1], x then y (``align_corners=False``)."""
    t = make_line(side)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], -1)[None]


def affine_field(x0: torch.Tensor, ax: torch.Tensor, ay: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor
                 ) -> torch.Tensor:
    """x0 + ax dx + ay dy on a grid, from its two axes: dx (..., W) along x, dy (..., H) along y, x0, ax, ay
    (...) -> (..., H, W). An affine function of the pixel position is a sum of a row and a column: one
    broadcast add on the grid instead of a 2-vector product and a reduction per pixel (a third of the
    closed-form graph's time went to those)."""
    return (x0[..., None] + ax[..., None] * dx)[..., None, :] + (ay[..., None] * dy)[..., :, None]


def window_fade(side: int) -> torch.Tensor:
    """(side, side): 1 inside, falling (smoothstep) to exactly 0 on the outermost pixels over WINDOW_FADE_PX."""
    d = torch.minimum(torch.arange(side), torch.arange(side).flip(0)).to(torch.float32)
    t = (d / WINDOW_FADE_PX).clamp(0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)
    return t[:, None] * t[None, :]


def grid_window(centre: torch.Tensor, grid: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A side x side window of a grid x grid pixel grid (pixel centres in [-1, 1], ``align_corners=False``)
    around points ``centre`` (..., 2), inside the grid: -> (its first pixel (..., 2), x then y, as a whole
    number of grid pixels; its pixel centres along x and along y (..., 2, side))."""
    px = (centre + 1.0) * (0.5 * grid) - 0.5
    first = torch.clamp(torch.round(px - 0.5 * (side - 1)), 0.0, float(grid - side))
    steps = torch.arange(side, dtype=centre.dtype, device=centre.device)
    return first, (first[..., None] + steps + 0.5) * (2.0 / grid) - 1.0


def place_windows(fields: torch.Tensor, first: torch.Tensor, grid: int) -> torch.Tensor:
    """Fields on windows (B,C,N,side,side) whose first pixels are ``first`` (B,N,2) -> their sum on the whole
    grid (B,C,grid,grid). Outside its window a field repeats its window's nearest edge pixel, so a field that
    must be zero outside is zero on its window's outermost pixels (``window_fade``). Two gathers, of columns and
    of rows; for B = 1 (the exported graph) both gather whole rows, the columns as rows of the transposed window
    (ONNX Runtime gathers single elements along the last axis about ten times slower)."""
    b, c, n, side, _ = fields.shape
    at = torch.arange(grid, dtype=first.dtype, device=first.device) - first[..., None]  # (B,N,2,grid)
    idx = at.clamp(0, side - 1).long()
    if b == 1:  # the exported graph: whole rows gathered, the columns as rows of the transposed window
        placed = [fields[:, :, k].transpose(2, 3).index_select(2, idx[0, k, 0]).transpose(2, 3)
                  .index_select(2, idx[0, k, 1]) for k in range(n)]
        return placed[0] if n == 1 else torch.stack(placed, 2).sum(2)
    rows = torch.gather(fields, 3, idx[:, None, :, 1, :, None].expand(b, c, n, grid, side))
    full = torch.gather(rows, 4, idx[:, None, :, 0, None, :].expand(b, c, n, grid, grid))
    return full[:, :, 0] if n == 1 else full.sum(2)


class MouthGeometry(NamedTuple):
    """The driven mouth (B,...): centre (B,2), unit axes e1 (across, right to left corner) and e2 (down, upper
    to lower inner lip), width (corner to corner) and gap (inner lips), the share of the gap that is new
    (opened further than the portrait's), and how much the portrait shows its own mouth interior (0-1)."""

    centre: torch.Tensor
    e1: torch.Tensor
    e2: torch.Tensor
    width: torch.Tensor
    gap: torch.Tensor
    new: torch.Tensor
    shown: torch.Tensor


class FirstOrderPrior(nn.Module):
    """Closed-form part of the generator. The learned network (``model.py``) adds residuals to the mask
    logits and to the image; with those residuals at zero, it is exactly this module."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("grid_m", make_grid(cfg.motion_size), persistent=False)
        self.register_buffer("grid_s", make_grid(cfg.image_size), persistent=False)
        self.register_buffer("line_m", make_line(cfg.motion_size), persistent=False)
        self.mouth_grid, self.lid_grid = min(cfg.image_size, MOUTH_GRID), min(cfg.image_size, LID_GRID)
        self.mouth_side, self.lid_side = min(MOUTH_WINDOW, self.mouth_grid), min(LID_WINDOW, self.lid_grid)
        self.register_buffer("mouth_fade", window_fade(self.mouth_side), persistent=False)
        self.register_buffer("lid_fade", window_fade(self.lid_side), persistent=False)
        self.register_buffer("sigmas", torch.from_numpy(SIGMAS[1:].copy()), persistent=False)
        self.i_ui, self.i_li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
        self.i_rc, self.i_lc = KP_INDEX["r_mouth_corner"], KP_INDEX["l_mouth_corner"]
        self.mouth_idx = [self.i_ui, self.i_li, self.i_rc, self.i_lc]
        self.i_upper = [KP_INDEX["r_upper_lid"], KP_INDEX["l_upper_lid"]]
        self.i_lower = [KP_INDEX["r_lower_lid"], KP_INDEX["l_lower_lid"]]
        iris = torch.zeros(2, cfg.num_kp - 1)
        iris[0, KP_INDEX["r_iris"] - 1] = iris[1, KP_INDEX["l_iris"] - 1] = 1.0
        self.register_buffer("iris_onehot", iris, persistent=False)
        upper_lip = torch.zeros(1, cfg.num_kp + 1, 1, 1)  # weights: [background, head, local keypoints...]
        upper_lip[0, 1 + self.i_ui] = 1.0
        self.register_buffer("upper_lip_onehot", upper_lip, persistent=False)

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

    def _region(self, u: torch.Tensor) -> torch.Tensor:
        """Soft head region (1 inside, 0 outside) of template-frame points u (B,H,W,2). The edge is a
        smoothstep from radius ``1 - 2.5 w`` to ``1 + 2.5 w`` (compact: nothing beyond it moves with the
        head). Its width w is wide over the hair on top (``HAIR_EDGE``), so hair beyond the region is stretched
        with the head rather than cut, narrower at the sides (``SIDE_EDGE``) and narrow below the jaw (``NECK_EDGE_LOW``), where the neck
        takes over and the body must stay still."""
        up = (-u[..., 1] / (torch.linalg.vector_norm(u, dim=-1) + EPS)).clamp(0.0, 1.0)  # 1 straight up
        low = (u[..., 1] / JAW_LINE).clamp(0.0, 1.0)
        width = SIDE_EDGE + (HAIR_EDGE - SIDE_EDGE) * up
        width = width + (NECK_EDGE_LOW - width) * low * low * (3.0 - 2.0 * low)
        x = ((1.0 - self._radius(u)) / (5.0 * width) + 0.5).clamp(0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)

    def _rigid_hair(self, t0: torch.Tensor, a0: torch.Tensor, rel0: torch.Tensor, kp0: torch.Tensor,
                    jinv0: torch.Tensor) -> torch.Tensor:
        """The head motion t0 (B,M,M,2), made rigid outside the face: the face follows the head keypoint's full
        affine motion, but hair and the rest of the head region move by its rotation and width scale only. The
        face oval also stretches when the jaw drops or the brows rise; the hair must not grow with it."""
        col = a0[:, :, 0]  # image of the template x axis: rotation and the face's width scale
        sim = torch.stack([torch.stack([col[:, 0], -col[:, 1]], -1), torch.stack([col[:, 1], col[:, 0]], -1)], -2)
        t_sim = kp0[:, None, None, :] + torch.einsum("bij,bhwj->bhwi", sim, rel0)
        w_hair = torch.sigmoid((face_radius(self._head_frame(t0, kp0, jinv0)) - HAIR_FROM) / 0.1)
        return t0 + w_hair[..., None] * (t_sim - t0)

    def _face_shift(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
                    jinv0: torch.Tensor, rx: torch.Tensor, ry: torch.Tensor) -> torch.Tensor:
        """(B,M,M,2) what the head motion adds inside the face: the local keypoints' displacements relative to
        the head (template units), interpolated smoothly over the face (a Gaussian-weighted mean, COARSE_SIGMA
        wide) and faded out at the face oval. A turned or nodding head moves the nose, the mouth and the chin
        far relative to the face's outline; without this, each moved as an island in the head's affine motion
        and the skin between them tore (a nose pulled sideways off the cheeks, a doubled nostril).
        rx, ry (B,K,M): the grid's axes less the driven keypoints'. The Gaussians are isotropic in the output
        (radius COARSE_SIGMA head scales), so each is a row times a column and the mean is two small matmuls."""
        jdinv0 = inv2x2(jac_d[:, 0])
        u_d = torch.einsum("bij,bkj->bki", jdinv0, kp_d[:, 1:] - kp_d[:, :1])  # (B,K-1,2) driven, template frame
        u_s = torch.einsum("bij,bkj->bki", jinv0, kp_s[:, 1:] - kp_s[:, :1])    # ... the portrait's
        disp = u_d - u_s
        inv2s2 = (0.5 / (COARSE_SIGMA * head_scale(jac_d)) ** 2)[:, None, None]
        gx, gy = torch.exp(-rx[:, 1:] ** 2 * inv2s2), torch.exp(-ry[:, 1:] ** 2 * inv2s2)  # (B,K-1,M)
        rows = gy.transpose(1, 2)  # (B,M,K-1)
        den = torch.matmul(rows, gx)
        shift = torch.stack([torch.matmul(rows * disp[:, None, :, i], gx) for i in range(2)], -1)
        shift = shift / (den[..., None] + EPS)
        # the fade, in the driven head frame: affine in the pixel position
        zero = torch.zeros_like(rx[:, 0, 0])
        u = torch.stack([affine_field(zero, jdinv0[:, i, 0], jdinv0[:, i, 1], rx[:, 0], ry[:, 0])
                         for i in range(2)], -1)
        inside = torch.sigmoid((COARSE_FACE_TO - face_radius(u)) / COARSE_FACE_EDGE)[..., None]
        # the portrait point the output pixel shows lies that much back: -J_s0 shift
        return -torch.einsum("bij,bhwj->bhwi", jac_s[:, 0], shift * inside)

    def _neck(self, u: torch.Tensor, kp_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
              jinv0: torch.Tensor) -> torch.Tensor:
        """(B,M,M) share of the head motion below the head: 1 at the driven chin, fading (smoothstep) to 0
        at the portrait's shoulders, inside a column (as wide as the jaw at the top, the neck lower down) that
        leans from the driven chin to the portrait's own. Outside it the body keeps the background motion.
        u: (B,M,M,2) output pixels in the portrait's head frame."""
        chin = torch.tensor([0.0, CHIN_AT], device=u.device)
        chin_d = kp_d[:, 0] + torch.einsum("bij,j->bi", jac_d[:, 0], chin)  # the driven chin, output coords
        top = torch.einsum("bij,bj->bi", jinv0, chin_d - kp_s[:, 0])  # ... in the portrait's head frame
        bottom = torch.maximum(torch.full_like(top[:, 1], SHOULDERS_AT), top[:, 1] + NECK_MIN)
        p = ((u[..., 1] - top[:, 1, None, None]) / (bottom - top[:, 1])[:, None, None]).clamp(0.0, 1.0)
        fade = 1.0 - p * p * (3.0 - 2.0 * p)  # smoothstep: no kink at either end
        centre = top[:, 0, None, None] * (1.0 - p)  # the column leans from the driven chin to the portrait's
        half = JAW_HALF_WIDTH + p * (NECK_HALF_WIDTH - JAW_HALF_WIDTH)
        column = torch.sigmoid((half - (u[..., 0] - centre).abs()) / NECK_EDGE)
        above = torch.sigmoid((u[..., 1] - top[:, 1, None, None] + 0.3) / 0.1)  # nothing above the chin
        return fade * column * above

    def _uncovered(self, z: torch.Tensor, t0: torch.Tensor, h_s: torch.Tensor, h_d: torch.Tensor,
                   face: torch.Tensor) -> torch.Tensor:
        """Background motion: identity, except where the portrait's own face is no longer covered by the
        driven head. There the sample is taken further along the head motion ``t0``: a point the driven
        head has uncovered is one whose head-motion sample ``t0(z)`` lies outside the portrait's head, so
        the uncovered area shows the background the head left behind, shifted rigidly (straight lines stay
        straight), instead of a ghost of the old face. Exactly the identity while the head does not move.

        Only where the portrait had its face, or something skin-coloured (``face``: 1 there, 0 elsewhere): the
        rest of the head region is hair, or background, and the fill copied whatever lay beyond the fixed head
        region, so hair that reaches past it (a veil, long or bushy hair) stood in the sky as a horn, or a
        smear with a lock in it; left as it is, the old hair stays (the hair looks fuller) and so does the
        background. Skin is filled: an ear left behind by a turning head floats beside it."""
        share = torch.clamp(BG_UNCOVER_GAIN * (h_s - h_d), 0.0, 1.0) * face
        return z + (BG_SHIFT * share)[..., None] * (t0 - z)

    # --- motions and their prior weights ---------------------------------------------------------
    def skin_like(self, src_image: torch.Tensor, kp_s: torch.Tensor) -> torch.Tensor:
        """``skin_like`` at this generator's sizes (the source encoder caches it per portrait)."""
        return skin_like(src_image, kp_s, self.cfg.motion_size)

    def motions(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
                src_skin: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> motions (B, K+1, M, M, 2): [background, head, local...]; weights (B, K+1, M, M) summing
        to 1. ``blend`` them into the flow and ``moved(flow)`` gives the paste mask. ``src_skin`` (B,M,M),
        from ``skin_like``: where, beside the face oval, the background fill also acts (none without it)."""
        z = self.grid_m  # (1,M,M,2)
        a = torch.matmul(jac_s, inv2x2(jac_d))  # (B,K,2,2)
        # z - kp_d along each axis, (B,K,M): the first-order motions kp_s + a (z - kp_d) are affine in z
        rx = self.line_m - kp_d[..., 0, None]
        ry = self.line_m - kp_d[..., 1, None]
        t = torch.stack([affine_field(kp_s[..., 0], a[..., 0, 0], a[..., 0, 1], rx, ry),
                         affine_field(kp_s[..., 1], a[..., 1, 0], a[..., 1, 1], rx, ry)], -1)  # head first
        jinv0 = inv2x2(jac_s[:, 0])
        rel0 = z - kp_d[:, 0, None, None, :]  # (B,M,M,2)
        t0 = self._rigid_hair(t[:, 0], a[:, 0], rel0, kp_s[:, 0], jinv0)
        t = torch.cat([(t0 + self._face_shift(kp_s, jac_s, kp_d, jac_d, jinv0, rx, ry))[:, None], t[:, 1:]], 1)
        # head region in output coordinates: the portrait's head region carried by the head motion
        h = self._region(self._head_frame(t[:, 0], kp_s[:, 0], jinv0))
        zb = z.expand(kp_s.shape[0], -1, -1, -1)
        u_src = self._head_frame(zb, kp_s[:, 0], jinv0)
        above_jaw = torch.sigmoid((JAW_LINE - u_src[..., 1]) / 0.1)
        face = torch.sigmoid((UNCOVER_FACE_TO - face_radius(u_src)) / UNCOVER_FACE_EDGE)
        if src_skin is not None:
            face = torch.maximum(face, src_skin)
        bg = self._uncovered(zb, t[:, 0], self._region(u_src) * above_jaw, h, face)
        neck = self._neck(u_src, kp_s, kp_d, jac_d, jinv0)[..., None]
        bg = bg + neck * (t[:, 0] - bg)
        # local keypoints take over from the head motion near their driving position
        scale_d = head_scale(jac_d)
        sig = self.sigmas[None, :] * scale_d[:, None]  # (B,K-1)
        # the Gaussians, each a product of a row and a column, (B,K-1,M,M); so are their sharpened powers
        inv2s2 = (0.5 / sig ** 2)[..., None]
        gx, gy = torch.exp(-rx[:, 1:] ** 2 * inv2s2), torch.exp(-ry[:, 1:] ** 2 * inv2s2)
        gate = self._iris_gate(kp_s, jac_s, kp_d, jac_d)[..., None]
        g = (gx * gate)[..., None, :] * gy[..., :, None]
        # the local keypoints together take up to all of the weight near them; among themselves, the nearest
        # (relative to its radius) dominates, so a lid or a lip moves as itself rather than as an average
        total = g.sum(1, keepdim=True)
        sharp = (gx * gate) ** LOCAL_SHARPNESS
        sharp = sharp[..., None, :] * (gy ** LOCAL_SHARPNESS)[..., :, None]
        g = sharp / (sharp.sum(1, keepdim=True) + EPS) * torch.clamp(total, max=1.0)
        w_local = h[:, None] * g
        w_head = h[:, None] * (1 - g.sum(1, keepdim=True))
        weights = torch.cat([1 - h[:, None], w_head, w_local], 1)
        # the interior of a mouth the portrait shows moves with its upper inner lip (see ``_own_mouth``)
        own = self._own_mouth(kp_s, jac_s, kp_d, jac_d)[:, None]
        weights = weights + own * (self.upper_lip_onehot - weights)
        motions = torch.cat([bg[:, None], t], 1)
        return motions, weights

    def moved(self, flow: torch.Tensor) -> torch.Tensor:
        """Paste mask (B,1,M,M): where the flow moves the portrait by more than about half a pixel of the
        generated crop, widened and feathered. Elsewhere the compositor keeps the portrait's own full-resolution
        pixels, so still parts of the face stay as sharp as the portrait."""
        disp = torch.linalg.vector_norm(flow - self.grid_m, dim=-1)[:, None] * (0.5 * self.cfg.image_size)
        moved = torch.sigmoid((disp - PASTE_MIN_PX) / (0.3 * PASTE_MIN_PX))
        moved = F.max_pool2d(moved, 3, stride=1, padding=1)
        return F.avg_pool2d(moved, 5, stride=1, padding=2, count_include_pad=False)

    def _iris_gate(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor
                   ) -> torch.Tensor:
        """(B, K-1) weight factors of the local keypoints: 1, except the irises, which fade out as their eye
        closes (relative to the portrait's opening), so the lids close over the eye."""
        gap = lambda kp: torch.linalg.vector_norm(kp[:, self.i_upper] - kp[:, self.i_lower], dim=-1)  # noqa: E731
        gap_d, gap_s = gap(kp_d) / head_scale(jac_d)[:, None], gap(kp_s) / head_scale(jac_s)[:, None]
        opened = torch.clamp(gap_d / (gap_s + EPS), 0.0, 1.0)  # (B, 2): right, left eye
        return 1.0 - torch.einsum("be,ek->bk", 1.0 - opened ** 2, self.iris_onehot)

    @staticmethod
    def blend(motions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """(B,K+1,M,M,2) x (B,K+1,M,M) -> flow (B,M,M,2): per pixel a (1,K+1) x (K+1,2) product (ONNX Runtime
        was slow at a multiply broadcast over a last axis of 2: the graph 0.93-0.96x in four interleaved runs)."""
        return torch.matmul(weights.permute(0, 2, 3, 1)[..., None, :], motions.permute(0, 2, 3, 1, 4)).squeeze(-2)

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
        return self._sample(image, flow_s)

    # --- the mouth the portrait does not show ---------------------------------------------------
    def _sample(self, src_image: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        """src_image (B,3,S,S) at points (B,H,W,2): one gather in the exported graph (B = 1, see
        ``bilinear_sample``), the same sampling with grid_sample in training batches."""
        if pts.shape[0] == 1:
            return bilinear_sample(src_image, pts)
        return F.grid_sample(src_image, pts, mode="bilinear", padding_mode="border", align_corners=False)

    def realised_lips(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
                      flow: torch.Tensor) -> torch.Tensor:
        """(B,4,2) the mouth as painted: the driven inner lips, and the corners where the warp ``flow`` (B,M,M,2)
        actually puts the portrait's (one Newton step from the driven corners, z = kp_d + (J_d J_s^-1)(kp_s -
        flow(kp_d))). Where neighbouring keypoints pull the other way (the far mouth corner and the far jaw on a
        strong turn), the warp falls short of the driven corner, and a mouth painted to the driven corner lay
        beyond the lips as a thin line across the cheek. The inner lips keep the driver's opening: the warp
        realises only part of it (about 0.7), and the paint over the lips is what shows the rest."""
        idx = self.mouth_idx[2:]  # the corners (the inner lips stay where the driver puts them)
        at = self._sample(flow.permute(0, 3, 1, 2), kp_d[:, None, idx])[:, :, 0].transpose(1, 2)  # (B,2,2)
        back = torch.matmul(jac_d[:, idx], inv2x2(jac_s[:, idx]))
        corners = kp_d[:, idx] + torch.einsum("bkij,bkj->bki", back, kp_s[:, idx] - at)
        return torch.cat([kp_d[:, self.mouth_idx[:2]], corners], 1)

    def _mouth_geometry(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
                        lips: torch.Tensor | None = None) -> MouthGeometry:
        """``lips`` (B,4,2): where the upper and lower inner lip and the right and left corner are in the output
        (``realised_lips``); the driven keypoints when not given."""
        if lips is None:
            lips = kp_d[:, self.mouth_idx]
        ui, li, rc, lc = lips[:, 0], lips[:, 1], lips[:, 2], lips[:, 3]
        gap_d = torch.linalg.vector_norm(li - ui, dim=-1)
        det = lambda j: torch.abs(j[:, 0, 0, 0] * j[:, 0, 1, 1] - j[:, 0, 0, 1] * j[:, 0, 1, 0])  # noqa: E731
        ratio = torch.sqrt(det(jac_d) / (det(jac_s) + EPS) + EPS)
        gap_s = torch.linalg.vector_norm(kp_s[:, self.i_li] - kp_s[:, self.i_ui], dim=-1) * ratio
        new = torch.clamp((gap_d - gap_s) / (gap_d + 1e-3), 0.0, 1.0)  # share of the gap that is new
        width_s = torch.linalg.vector_norm(kp_s[:, self.i_lc] - kp_s[:, self.i_rc], dim=-1)
        shown = ((gap_s / (ratio * width_s + EPS) - OWN_MOUTH_FROM) / OWN_MOUTH_RAMP).clamp(0.0, 1.0)
        across = lc - rc
        width = torch.linalg.vector_norm(across, dim=-1)
        e1 = across / (width[:, None] + EPS)
        e2 = torch.stack([-e1[:, 1], e1[:, 0]], -1)
        e2 = e2 * torch.sign(((li - ui) * e2).sum(-1))[:, None]  # from the upper inner lip to the lower one
        return MouthGeometry(0.5 * (ui + li), e1, e2, width, gap_d, new, shown)

    @staticmethod
    def _mouth_frame(line_x: torch.Tensor, line_y: torch.Tensor, m: MouthGeometry
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """On the grid of ``line_x`` and ``line_y`` ((G,) or (B,G)): (u, v, below) (B,G,G): u across (1 =
        MOUTH_HALF_WIDTH mouth widths from the centre), v down (-1 at the upper inner lip, +1 at the lower one),
        below: distance below the upper lip."""
        dx, dy = line_x - m.centre[:, 0, None], line_y - m.centre[:, 1, None]
        zero = torch.zeros_like(m.width)
        u = affine_field(zero, m.e1[:, 0], m.e1[:, 1], dx, dy) / (MOUTH_HALF_WIDTH * m.width[:, None, None] + EPS)
        down = affine_field(zero, m.e2[:, 0], m.e2[:, 1], dx, dy)
        return u, down / (0.5 * m.gap[:, None, None] + 1e-3), down + 0.5 * m.gap[:, None, None]

    def _band(self, v: torch.Tensor, m: MouthGeometry, lower: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(band, started): the new share of an own mouth's gap, above the lower lip (the upper teeth stay on
        the upper lip; the lower ones, as in most open mouths, go down behind the lower lip), its top edge
        ``lower`` (crop units) lower; started: 0 until the new opening is OWN_MOUTH_MIN_FLOW_PX flow pixels, 1
        from one flow pixel more."""
        new = m.new[:, None, None]
        flow_px = 2.0 / self.cfg.motion_size
        started = torch.clamp((new * m.gap[:, None, None] - OWN_MOUTH_MIN_FLOW_PX * flow_px) / flow_px, 0.0, 1.0)
        top = 1.0 - 2.0 * new + lower / (0.5 * m.gap[:, None, None] + 1e-3)
        return torch.sigmoid((v - top) / OWN_MOUTH_BAND_EDGE) * started, started

    def _own_mouth(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor
                   ) -> torch.Tensor:
        """(B,M,M) where the flow carries a mouth that the portrait shows rigidly with its upper inner lip: the
        interior above the new band (its teeth stay on the upper lip, unstretched, sampled at full resolution
        by the compositor; the flow's soft step to the lower lip lies under the band's paint)."""
        m = self._mouth_geometry(kp_s, jac_s, kp_d, jac_d)
        u, v, _ = self._mouth_frame(self.line_m, self.line_m, m)
        # one flow pixel into the band: the flow's soft step to the lower lip's motion falls under its paint
        band, started = self._band(v, m, lower=2.0 / self.cfg.motion_size)
        inside = torch.sigmoid((1.0 - torch.sqrt(u * u + v * v + EPS)) / OWN_MOUTH_FLOW_EDGE)
        return m.shown[:, None, None] * started * inside * (1.0 - band)

    def mouth(self, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor, jac_d: torch.Tensor,
              src_mouth: torch.Tensor, lips: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (fill weight (B,1,S,S), fill colour (B,3,S,S)) for the mouth interior the warp cannot show;
        ``src_mouth`` (B,3,1,2) is the portrait's (interior, teeth) colours.

        A closed portrait mouth: the share of the gap that is new is painted (dark, with painted upper teeth).
        A portrait that already shows its mouth interior (a smile with teeth, parted lips) keeps its own,
        carried by the upper lip (``_own_mouth``: a painted interior over it turned its teeth grey, the warp
        stretched them into a tall block), and only the new share of the gap is painted, dark, above the lower
        lip (``_band``)."""
        m = self._mouth_geometry(kp_s, jac_s, kp_d, jac_d, lips)
        first, lines = grid_window(m.centre[:, None], self.mouth_grid, self.mouth_side)  # (B,1,2), (B,1,2,side)
        u, v, below = self._mouth_frame(lines[:, 0, 0], lines[:, 0, 1], m)
        r = torch.sqrt(u * u + v * v + EPS)
        band, _ = self._band(v, m)
        new, shown = m.new[:, None, None], m.shown[:, None, None]
        inside = torch.sigmoid((1.0 - r) / MOUTH_EDGE) * (new + shown * (band - new))
        height = torch.minimum(TEETH_HEIGHT * m.width, TEETH_MAX_SHARE * m.gap)[:, None, None]
        w = m.width[:, None, None] + EPS
        # a slit shows the mouth's shadow, not a line of teeth: the teeth come in as the new gap opens
        slit = torch.clamp((m.new * m.gap / (m.width + EPS) - TEETH_FROM_GAP) / TEETH_GAP_RAMP, 0.0, 1.0)
        teeth = (torch.sigmoid((height - below) / (TEETH_EDGE * w))
                 * torch.sigmoid((TEETH_HALF_U - u.abs()) / TEETH_SIDE_EDGE) * TEETH_OPACITY * (1.0 - shown)
                 * slit[:, None, None])
        shade = ((1.0 - TEETH_SIDE_SHADE * u * u)
                 * (1.0 - TEETH_LIP_SHADOW * torch.clamp(1.0 - below / (TEETH_SHADOW_DEPTH * height + EPS), 0.0, 1.0)))
        corners = (1.0 - CORNER_SHADE * u * u)[:, None]
        roof = (ROOF_SHADE + (1.0 - ROOF_SHADE) * torch.clamp(0.5 * (v + 1.0), 0.0, 1.0))[:, None]
        wide = torch.clamp((m.gap / w[:, 0, 0] - TONGUE_FROM) / TONGUE_RAMP, 0.0, 1.0)[:, None, None]
        dome = torch.sqrt((u / TONGUE_HALF_U) ** 2 + ((v - 1.0) / TONGUE_HEIGHT) ** 2 + EPS)
        tongue = (torch.sigmoid((1.0 - dome) / TONGUE_EDGE) * wide)[:, None]
        interior = src_mouth[..., :1]
        luma = (interior * interior.new_tensor(LUMA_BGR).view(1, 3, 1, 1)).sum(1, keepdim=True)
        gain = torch.clamp(TONGUE_LUMA_MAX / (luma + EPS), max=TONGUE_GAIN)
        tongue_colour = gain * (luma + TONGUE_SATURATION * (interior - luma))
        dark = interior * roof * corners
        dark = dark + tongue * (tongue_colour * corners - dark)
        teeth, shade = teeth[:, None], shade[:, None]
        colour = dark + teeth * (src_mouth[..., 1:] * shade - dark)  # (B,3,side,side)
        # the weight fades out at the window's edge, so it is zero outside (the colour only matters where it is not)
        window = torch.cat([(inside * self.mouth_fade)[:, None], colour], 1)
        fields = self.upsample(place_windows(window[:, :, None], first, self.mouth_grid))
        return fields[:, 0:1], fields[:, 1:]

    # --- the lids the portrait keeps open when the driver closes the eyes -----------------------------
    def _opening(self, kp: torch.Tensor, jac: torch.Tensor) -> torch.Tensor:
        """(B, 2) eye openings (right, left) in template units, from the lid keypoints."""
        gap = torch.linalg.vector_norm(kp[:, self.i_upper] - kp[:, self.i_lower], dim=-1) / head_scale(jac)[:, None]
        return torch.clamp((gap - GAP_BASE) / GAP_SLOPE, min=0.0)

    def eyelids(self, src_image: torch.Tensor, kp_s: torch.Tensor, jac_s: torch.Tensor, kp_d: torch.Tensor,
                jac_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (fill weight (B,1,S,S), fill colour (B,3,S,S)): as the driver closes an eye that the portrait
        keeps open, the lid comes down over it: the portrait's own skin from LID_SKIN_LIFT lid gaps above the
        eye (texture and shading, not a flat colour), carried back to the portrait by the head's motion and slid
        down, opaque once closed. Computed on a LID_WINDOW window of the LID_GRID grid around each eye: the flow
        alone cannot do it (the eye is a few pixels tall at motion size, and a soft flow edge stretches the eye
        instead of covering it)."""
        o_s, o_d = self._opening(kp_s, jac_s), self._opening(kp_d, jac_d)
        closure = torch.clamp((1.0 - o_d / (o_s + EPS) - 0.1) / LID_CLOSED_AT, 0.0, 1.0)  # (B, 2)
        closure = closure * torch.sigmoid((o_s - 0.03) / 0.01)  # nothing to close on a closed portrait eye
        s_d = head_scale(jac_d)
        head = jac_d[:, 0]
        e1 = head[:, :, 0] / (torch.linalg.vector_norm(head[:, :, 0], dim=-1, keepdim=True) + EPS)  # head's x
        e2 = head[:, :, 1] / (torch.linalg.vector_norm(head[:, :, 1], dim=-1, keepdim=True) + EPS)  # head's y
        up, lo = kp_d[:, self.i_upper], kp_d[:, self.i_lower]  # (B, 2, 2)
        centre = 0.5 * (up + lo)
        first, lines = grid_window(centre, self.lid_grid, self.lid_side)  # a window around each eye: (B, 2, 2, G)
        dx, dy = lines[..., 0, :] - centre[..., 0, None], lines[..., 1, :] - centre[..., 1, None]  # (B, 2, G)
        zero = torch.zeros_like(centre[..., 0])
        sx = (LID_HALF_WIDTH * s_d)[:, None]
        sy = 0.5 * (o_s + LID_MARGIN) * s_d[:, None]  # (B, 2)
        x = affine_field(zero, e1[:, None, 0] / sx, e1[:, None, 1] / sx, dx, dy)  # (B, 2, G, G)
        y = affine_field(zero, e2[:, None, 0] / sy, e2[:, None, 1] / sy, dx, dy)
        inside = torch.sigmoid((1.0 - torch.sqrt(x * x + y * y + EPS)) / LID_EDGE)
        # the lid's edge, from the top (-1) down past the lower lid (LID_OVERSHOOT): a closed eye is covered whole
        edge = ((2.0 * closure - 1.0) * LID_OVERSHOOT)[..., None, None]
        fill = inside * torch.sigmoid((edge - y) / 0.1) * torch.clamp(4.0 * closure, max=1.0)[..., None, None]
        lash = inside * torch.exp(-(((y - edge) / 0.2) ** 2)) * torch.clamp(2.0 * closure, max=1.0)[..., None, None]
        to_src = torch.einsum("bij,bjk->bik", jac_s[:, 0], inv2x2(jac_d[:, 0]))
        c_s = 0.5 * (kp_s[:, self.i_upper] + kp_s[:, self.i_lower])  # (B, 2, 2)
        lift = LID_SKIN_LIFT * (kp_s[:, self.i_lower] - kp_s[:, self.i_upper])
        o = c_s - lift
        pts = torch.stack([affine_field(o[..., 0], to_src[:, None, 0, 0], to_src[:, None, 0, 1], dx, dy),
                           affine_field(o[..., 1], to_src[:, None, 1, 0], to_src[:, None, 1, 1], dx, dy)], -1)
        b, g = pts.shape[0], pts.shape[-2]
        pts = pts.reshape(b, 2 * g, g, 2)
        skin = self._sample(src_image, pts)
        skin = skin.reshape(b, 3, 2, g, g)
        # each eye on its own window, its colour premultiplied by its weight; where the two windows overlap (on
        # most faces: the eyes are about 20 lid-grid pixels apart) the colour is the weighted mean, as on one grid
        fill = fill * self.lid_fade
        window = torch.cat([fill[:, None], skin * (fill * (1.0 - LASH_DARKEN * lash.clamp(max=1.0)))[:, None]], 1)
        placed = place_windows(window, first, self.lid_grid)  # (B, 4, G, G)
        fill_sum = placed[:, :1]
        colour = placed[:, 1:] / (fill_sum + EPS)
        fields = self.upsample(torch.cat([fill_sum.clamp(max=1.0), colour], 1))
        return fields[:, :1], fields[:, 1:]

    def paint(self, src_image: torch.Tensor, src_mouth: torch.Tensor, kp_s: torch.Tensor, jac_s: torch.Tensor,
              kp_d: torch.Tensor, jac_d: torch.Tensor, flow: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the warp cannot show, the opened mouth and then the closed lids, as one layer: -> (its colour
        premultiplied by its alpha (B,3,S,S), alpha (B,1,S,S)); ``over`` lays it on a warp. With the warp's
        ``flow`` the mouth is painted where the warp puts the lips (``realised_lips``)."""
        lips = None if flow is None else self.realised_lips(kp_s, jac_s, kp_d, jac_d, flow)
        fill_m, colour_m = self.mouth(kp_s, jac_s, kp_d, jac_d, src_mouth, lips)
        fill_e, colour_e = self.eyelids(src_image, kp_s, jac_s, kp_d, jac_d)
        # the mouth, then the lids, over a warp w: w -> (1 - fm) w + fm cm -> (1 - fe) (...) + fe ce
        premultiplied = (1.0 - fill_e) * fill_m * colour_m + fill_e * colour_e
        return premultiplied, 1.0 - (1.0 - fill_m) * (1.0 - fill_e)

    @staticmethod
    def over(warped: torch.Tensor, premultiplied: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """The paint laid over a warped image (B,3,S,S)."""
        return ((1.0 - alpha) * warped + premultiplied).clamp(0.0, 1.0)

    def paint_layer(self, src_image: torch.Tensor, src_mouth: torch.Tensor, kp_s: torch.Tensor, jac_s: torch.Tensor,
                    kp_d: torch.Tensor, jac_d: torch.Tensor, src_skin: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """What a compositor that samples the full-resolution portrait itself needs, and no more: -> (the paint
        premultiplied by its alpha (B,3,S,S), paste mask (B,1,S,S), flow (B,M,M,2), paint alpha (B,1,S,S)).
        ``forward`` lays the same paint over the 256-px warp, which this graph does not compute (the compositor
        warps the portrait at full resolution instead; the crop's warp was a quarter of the generator's time).
        ``src_skin``: the cached ``skin_like`` of the portrait (computed here when not given)."""
        if src_skin is None:
            src_skin = self.skin_like(src_image, kp_s)
        # once: the warp and the paste mask share it
        flow = self.blend(*self.motions(kp_s, jac_s, kp_d, jac_d, src_skin))
        premultiplied, alpha = self.paint(src_image, src_mouth, kp_s, jac_s, kp_d, jac_d, flow)
        return premultiplied, torch.maximum(self.upsample(self.moved(flow)), alpha), flow, alpha

    def forward(self, src_image: torch.Tensor, src_mouth: torch.Tensor, kp_s: torch.Tensor, jac_s: torch.Tensor,
                kp_d: torch.Tensor, jac_d: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (image (B,3,S,S), paste mask (B,1,S,S), flow (B,M,M,2), paint (B,1,S,S)): the flow is the
        sampling grid at motion size (crop-normalised, x then y, ``align_corners=False``), so a compositor can
        sample the full-resolution portrait itself; paint is where ``image`` is painted (mouth, lids), not
        warped."""
        premultiplied, mask, flow, alpha = self.paint_layer(src_image, src_mouth, kp_s, jac_s, kp_d, jac_d)
        return self.over(self.warp(src_image, flow), premultiplied, alpha), mask, flow, alpha
