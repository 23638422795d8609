"""The attacks of the provenance benchmark: what happens to a video between mimicam and a viewer.

Each attack takes the clip's frames (and a context: the paste box, fps, an RNG, real gallery tiles)
and returns the frames a verifier would receive. Used by ``mimicam.tools.provenance_bench``.
"""
from __future__ import annotations

import io

import cv2
import numpy as np


# -- attacks --------------------------------------------------------------------------------------
def _fit(f: np.ndarray, w: int, h: int) -> np.ndarray:
    """Letterbox into w x h (what a call app does), aspect kept."""
    k = min(w / f.shape[1], h / f.shape[0])
    small = cv2.resize(f, (max(2, round(f.shape[1] * k)), max(2, round(f.shape[0] * k))),
                       interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def codec(frames: list[np.ndarray], name: str, kbit: int, size: tuple[int, int], fps: float = 30.0,
          generations: int = 1) -> list[np.ndarray]:
    import av

    for _ in range(generations):
        buf = io.BytesIO()
        with av.open(buf, "w", format="webm" if "vpx" in name else "mp4") as out:
            st = out.add_stream(name, rate=round(fps))
            st.width, st.height, st.pix_fmt, st.bit_rate = size[0], size[1], "yuv420p", kbit * 1000
            for f in frames:
                fr = _fit(f, *size) if f.shape[:2] != (size[1], size[0]) else f
                for pkt in st.encode(av.VideoFrame.from_ndarray(fr, format="bgr24")):
                    out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)
        buf.seek(0)
        with av.open(buf) as inp:
            frames = [fr.to_ndarray(format="bgr24") for fr in inp.decode(video=0)]
    return frames


def _warp(f: np.ndarray, m: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    if m.shape == (2, 3):
        return cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return cv2.warpPerspective(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _per_frame(fn):
    return lambda frames, ctx: [fn(f) for f in frames]


def _crop(f, fx, fy):
    h, w = f.shape[:2]
    return np.ascontiguousarray(f[int(h * fy): h - int(h * fy), int(w * fx): w - int(w * fx)])


def _aspect(f):
    """16:9 <-> 4:3: the centre cut to the other aspect."""
    h, w = f.shape[:2]
    target = 4 / 3 if w / h > 1.55 else 16 / 9
    if w / h > target:
        nw = int(h * target)
        return np.ascontiguousarray(f[:, (w - nw) // 2:(w - nw) // 2 + nw])
    nh = int(w / target)
    return np.ascontiguousarray(f[(h - nh) // 2:(h - nh) // 2 + nh])


def _perspective(f):
    h, w = f.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    d = 0.03
    dst = np.float32([[w * d, h * d], [w * (1 - d / 2), 0], [w, h], [0, h * (1 - d)]])
    return _warp(f, cv2.getPerspectiveTransform(src, dst))


def _gallery(frames, ctx):
    """3x3 call gallery at 1280x720, our clip in the centre tile, real people in the others."""
    others = ctx["gallery"]
    out = []
    for i, f in enumerate(frames):
        canvas = np.zeros((720, 1280, 3), np.uint8)
        for k in range(9):
            tile = f if k == 4 else others[k % len(others)][i % len(others[k % len(others)])]
            y, x = (k // 3) * 240, (k % 3) * 426
            canvas[y:y + 240, x:x + 426] = _fit(tile, 426, 240)
        out.append(canvas)
    return out


def _face(frames, ctx):
    x0, y0, x1, y1 = ctx["box"]
    return [np.ascontiguousarray(f[y0:y1, x0:x1]) for f in frames]


def _saturation(f, k=1.4):
    hsv = cv2.cvtColor(f, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * k, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def _sharpen(f):
    blur = cv2.GaussianBlur(f, (0, 0), 1.5)
    return cv2.addWeighted(f, 1.6, blur, -0.6, 0)


def _rot(deg):
    def fn(f):
        h, w = f.shape[:2]
        return _warp(f, cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0))
    return fn


def _scale(k):
    return lambda f: cv2.resize(f, (round(f.shape[1] * k), round(f.shape[0] * k)),
                                interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


_LUT_GAMMA = (255 * (np.arange(256) / 255.0) ** 0.75).astype(np.uint8)

ATTACKS = {
    "untouched": lambda frames, ctx: frames,
    "mirror": _per_frame(lambda f: np.ascontiguousarray(f[:, ::-1])),
    "crop 10% per side": _per_frame(lambda f: _crop(f, 0.1, 0.1)),
    "16:9 <-> 4:3": _per_frame(_aspect),
    "scale 0.33": _per_frame(_scale(0.33)),
    "scale 0.5": _per_frame(_scale(0.5)),
    "scale 1.5": _per_frame(_scale(1.5)),
    "scale 2.0": _per_frame(_scale(2.0)),
    "gallery tile (3x3 at 720p)": _gallery,
    "rotation 1 deg": _per_frame(_rot(1.0)),
    "rotation 3 deg": _per_frame(_rot(3.0)),
    "slight perspective": _per_frame(_perspective),
    "gamma 0.75": _per_frame(lambda f: cv2.LUT(f, _LUT_GAMMA)),
    "contrast 1.3": _per_frame(lambda f: cv2.convertScaleAbs(f, alpha=1.3, beta=-38)),
    "saturation 1.4": _per_frame(_saturation),
    "beauty (bilateral)": _per_frame(lambda f: cv2.bilateralFilter(f, 9, 40, 5)),
    "sharpen": _per_frame(_sharpen),
    "H.264 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libx264", 1000, (1280, 720), ctx["fps"]),
    "VP8 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libvpx", 1000, (1280, 720), ctx["fps"]),
    "VP9 1 Mbit/s 720p": lambda frames, ctx: codec(frames, "libvpx-vp9", 1000, (1280, 720), ctx["fps"]),
    "H.264 1 Mbit/s 720p, 2 generations": lambda frames, ctx: codec(frames, "libx264", 1000, (1280, 720),
                                                                   ctx["fps"], 2),
    "15 fps": lambda frames, ctx: frames[::2],
    "dropped frames (30%)": lambda frames, ctx: [f for f, k in zip(frames, ctx["rng"].random(len(frames))) if k > 0.3],
    "shuffled frames": lambda frames, ctx: [frames[i] for i in ctx["rng"].permutation(len(frames))],
    "2 s cut from the middle": lambda frames, ctx: frames[:len(frames) // 2 - 30] + frames[len(frames) // 2 + 30:],
    "H.264 300 kbit/s 360p": lambda frames, ctx: codec(frames, "libx264", 300, (640, 360), ctx["fps"]),
    "VP8 300 kbit/s 360p": lambda frames, ctx: codec(frames, "libvpx", 300, (640, 360), ctx["fps"]),
    "face-only crop": _face,
}
QUICK_ATTACKS = ["untouched", "mirror", "crop 10% per side", "scale 0.33", "scale 2.0", "rotation 3 deg",
                 "H.264 1 Mbit/s 720p", "shuffled frames", "H.264 300 kbit/s 360p", "face-only crop"]


