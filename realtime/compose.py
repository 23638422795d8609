"""Build each output frame from clean inputs: the portrait, with the generated face pasted back through
the generator's feathered mask.

Every call starts from the portrait's own pixels (restored into the reused output buffer), so nothing
that a later stage writes into a frame -- the watermark, the badge -- carries over into the next one.
Only the part of the crop box inside the output is blended; everything outside the mask keeps the
portrait's own full-resolution pixels, so there are no seams. The output is the portrait cut to even
width and height (video encoders and 4:2:0 virtual cameras need even sizes), without resampling.

What is pasted, with the closed-form generator (``flow_size`` given): the clean full-resolution portrait,
sampled (``cv2.remap``) with the generator's flow upsampled to the box, then the generator's paint (the
opened mouth, the closed lids) over it: that graph's first output is the paint premultiplied by its alpha
(``FirstOrderPrior.paint_layer``), not a crop, so the lips and skin around a painted mouth or a closed lid keep
the portrait's detail. With learned weights (``flow_size`` None) the learned residual lives in the generated
crop, which is resized to the box and pasted as it is.
Buffers are allocated in ``open()``; the returned frame is reused on the next call.
"""
from __future__ import annotations

import cv2
import numpy as np

from .portrait import Portrait

# How the portrait is sampled. Bicubic keeps a face's detail (Laplacian variance 0.93x the portrait's at a
# 2.5-px shift of the astronaut; bilinear 0.62x; the old 256-px crop 0.30x) but costs about twice as much
# (2.9 vs 2.0 ms at a 366-px box, 26 vs 15 ms at a 981-px close-up box on 2 busy cores): offline renders
# sample bicubic, live output bilinear, so a close-up webcam frame stays within the frame budget.
INTERPOLATION = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}
# The paste fades out towards the crop box's edges over this share of its side: where the motion reaches
# the box's edge (a neck stretched by a large nod, hair pulled by a turn), the seam is a soft fade, never a
# straight cut along the box.
EDGE_FADE = 0.08
PAINT_MIN = 1e-3  # paint alpha below this counts as none (its colour is the premultiplied paint / alpha)


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even (width, height) that fits: what the output of a portrait of this size is."""
    return width - width % 2, height - height % 2


def _grid(side: int) -> np.ndarray:
    """(side, side, 2) pixel centres in [-1, 1], x then y (``align_corners=False``): the identity flow."""
    t = ((np.arange(side, dtype=np.float32) + 0.5) / side * 2 - 1).astype(np.float32)
    return np.stack(np.meshgrid(t, t, indexing="xy"), -1)


def edge_fade(side: int, share: float) -> np.ndarray:
    """side x side float32: 1 inside, falling smoothly to 0 at the square's edges over ``share`` of its side."""
    ramp = max(2.0, share * side)
    d = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32) + 0.5
    t = np.clip(d / ramp, 0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)
    return np.outer(t, t).astype(np.float32)


class Compositor:
    """``flow_size``: the side of the generator's flow when it is the closed form (sample the portrait with
    it); None with learned weights (paste the generated crop)."""

    def __init__(self, portrait: Portrait, flow_size: int | None = None, interpolation: str = "cubic") -> None:
        self.portrait = portrait
        self.flow_size = flow_size
        if interpolation not in INTERPOLATION:
            raise ValueError(f"Compositor interpolation: expected one of {tuple(INTERPOLATION)}, got {interpolation!r}")
        self.interp = INTERPOLATION[interpolation]
        h, w = portrait.image.shape[:2]
        self.size = even_size(w, h)
        b = portrait.box
        self.side = max(int(round(b.side)), 1)
        self.half = 0.5 * float(b.side)  # canvas pixels per unit of the crop's normalised coordinates
        bx0, by0 = int(round(b.x0)), int(round(b.y0))
        # output region covered by the box, and the matching region inside the resized crop
        self.ix0, self.iy0 = max(bx0, 0), max(by0, 0)
        self.ix1, self.iy1 = min(bx0 + self.side, self.size[0]), min(by0 + self.side, self.size[1])
        self.cx0, self.cy0 = self.ix0 - bx0, self.iy0 - by0
        self._out: np.ndarray | None = None

    def open(self) -> "Compositor":
        w, h = self.size
        self._clean = self.portrait.image[:h, :w]  # a view: the clean base of every frame
        self._out = np.empty((h, w, 3), np.uint8)
        self._base = self._clean[self.iy0:self.iy1, self.ix0:self.ix1].astype(np.float32)
        s, side = self.portrait.crop.shape[-1], self.side
        self._hwc = np.empty((s, s, 3), np.float32)  # per-frame buffers, allocated once
        self._crop = np.empty((side, side, 3), np.float32)
        self._mask = np.empty((side, side), np.float32)
        self._edge = edge_fade(side, EDGE_FADE)
        self._blend = np.empty_like(self._base)
        if self.flow_size is not None:
            m, rh, rw = self.flow_size, self.iy1 - self.iy0, self.ix1 - self.ix0
            self._grid_m = _grid(m)
            self._disp_m = np.empty((m, m, 2), np.float32)
            self._disp = np.empty((side, side, 2), np.float32)
            self._paint = np.empty((side, side), np.float32)
            # canvas pixel of every output pixel of the region: where the identity flow samples
            self._px = np.arange(self.ix0, self.ix1, dtype=np.float32)[None, :].repeat(max(rh, 0), 0)
            self._py = np.arange(self.iy0, self.iy1, dtype=np.float32)[:, None].repeat(max(rw, 0), 1)
            self._map_x, self._map_y = np.empty_like(self._px), np.empty_like(self._py)
            self._warped = np.empty(self._base.shape, np.uint8)
            self._painted, self._face, self._final = (np.empty_like(self._warped) for _ in range(3))
            self._inv = np.empty((side, side), np.float32)
        return self

    def close(self) -> None:
        self._out = None

    def __enter__(self) -> "Compositor":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def neutral(self) -> np.ndarray:
        """The portrait itself (used before calibration), in the reused output buffer."""
        np.copyto(self._out, self._clean)
        return self._out

    def paste(self, image: np.ndarray, mask: np.ndarray, flow: np.ndarray | None = None,
              paint: np.ndarray | None = None) -> np.ndarray:
        """The generator's outputs -- image (1,3,S,S), mask (1,1,S,S), flow (1,M,M,2), paint (1,1,S,S),
        float32 -- -> full frame HxWx3 uint8 (reused). With ``flow_size`` and a flow, ``image`` is the closed
        form's paint premultiplied by its alpha ``paint``; without, ``image`` is the crop, resized and pasted.

        The whole frame is restored from the portrait first: the previous frame's mark and badge
        were written into this buffer, and must not pile up."""
        out = self.neutral()
        if self.ix1 <= self.ix0 or self.iy1 <= self.iy0:
            return out
        ys, xs = slice(self.cy0, self.cy0 + self.iy1 - self.iy0), slice(self.cx0, self.cx0 + self.ix1 - self.ix0)
        cv2.resize(mask[0, 0], (self.side, self.side), dst=self._mask, interpolation=cv2.INTER_LINEAR)
        np.multiply(self._mask, self._edge, out=self._mask)
        region = out[self.iy0:self.iy1, self.ix0:self.ix1]
        if self.flow_size is not None and flow is not None:
            face = self._sample(image, flow, paint, ys, xs)
            np.subtract(1.0, self._mask, out=self._inv)
            cv2.blendLinear(face, region, self._mask[ys, xs], self._inv[ys, xs], dst=self._final)
            region[...] = self._final  # base + m * (face - base), rounded
            return out
        self._resize_crop(image)
        blend = self._blend
        np.multiply(self._crop[ys, xs], 255.0, out=blend)
        np.subtract(blend, self._base, out=blend)
        np.multiply(blend, self._mask[ys, xs, None], out=blend)
        np.add(blend, self._base, out=blend)  # base + m * (crop - base)
        np.clip(blend, 0, 255, out=blend)
        region[...] = blend  # float -> uint8 truncates, as astype did
        return out

    def _resize_crop(self, image: np.ndarray) -> None:
        np.copyto(self._hwc, image[0].transpose(1, 2, 0))
        cv2.resize(self._hwc, (self.side, self.side), dst=self._crop, interpolation=cv2.INTER_LINEAR)

    def _sample(self, image: np.ndarray, flow: np.ndarray, paint: np.ndarray | None, ys: slice, xs: slice
                ) -> np.ndarray:
        """The face (uint8, the region's size): the clean canvas sampled at the upsampled flow, then the
        paint (``image``: premultiplied by its alpha ``paint``) over it. The displacement (flow - identity) is
        upsampled, as the prior does, so a still flow samples every pixel exactly where it is."""
        np.subtract(flow[0], self._grid_m, out=self._disp_m)
        cv2.resize(self._disp_m, (self.side, self.side), dst=self._disp, interpolation=cv2.INTER_LINEAR)
        np.multiply(self._disp[ys, xs, 0], self.half, out=self._map_x)
        np.add(self._map_x, self._px, out=self._map_x)
        np.multiply(self._disp[ys, xs, 1], self.half, out=self._map_y)
        np.add(self._map_y, self._py, out=self._map_y)
        cv2.remap(self._clean, self._map_x, self._map_y, self.interp, dst=self._warped, borderMode=cv2.BORDER_REPLICATE)
        rows = None if paint is None else self._painted_rows(paint[0, 0], ys, xs)
        if rows is None:
            return self._warped
        # the premultiplied paint and its alpha, upsampled to the box where they reach (as cv2.resize to the
        # whole box would: pixel centres mapped, edges replicated); colour = premultiplied / alpha, blended over
        # the full-resolution warp with the alpha
        r0, r1, c0, c1 = rows
        by, bx = slice(ys.start + r0, ys.start + r1), slice(xs.start + c0, xs.start + c1)
        k = image.shape[-1] / self.side
        m = np.array([[k, 0.0, (bx.start + 0.5) * k - 0.5], [0.0, k, (by.start + 0.5) * k - 0.5]], np.float32)
        size, flags = (c1 - c0, r1 - r0), cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        np.copyto(self._hwc, image[0].transpose(1, 2, 0))
        p, colour, inv = self._paint[by, bx], self._crop[by, bx], self._inv[by, bx]
        cv2.warpAffine(self._hwc, m, size, dst=colour, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        cv2.warpAffine(paint[0, 0], m, size, dst=p, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        np.clip(p, PAINT_MIN, 1.0, out=p)
        np.divide(255.0, p, out=inv)
        np.multiply(colour, inv[..., None], out=colour)
        np.subtract(1.0, p, out=inv)
        painted = cv2.convertScaleAbs(colour, dst=self._painted[r0:r1, c0:c1])  # saturates to 0..255
        np.copyto(self._face, self._warped)
        cv2.blendLinear(painted, self._warped[r0:r1, c0:c1], p, inv, dst=self._face[r0:r1, c0:c1])
        return self._face

    def _painted_rows(self, paint_s: np.ndarray, ys: slice, xs: slice) -> tuple[int, int, int, int] | None:
        """(r0, r1, c0, c1): the rectangle of the region (its own pixel rows and columns) that the paint
        (S x S, alpha >= PAINT_MIN) reaches, with a margin for the upsampling; None when it reaches none."""
        painted = paint_s >= PAINT_MIN
        rr, cc = np.flatnonzero(painted.any(axis=1)), np.flatnonzero(painted.any(axis=0))
        if rr.size == 0:
            return None
        f = self.side / paint_s.shape[0]
        h, w = ys.stop - ys.start, xs.stop - xs.start
        r0, r1 = max(int((rr[0] - 1) * f) - ys.start, 0), min(int((rr[-1] + 2) * f) + 1 - ys.start, h)
        c0, c1 = max(int((cc[0] - 1) * f) - xs.start, 0), min(int((cc[-1] + 2) * f) + 1 - xs.start, w)
        return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None
