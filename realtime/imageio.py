"""Reading a portrait image the user gave: any common format and mode becomes HxWx3 uint8 BGR, upright.

Valid but unusual images are converted (grayscale, RGBA, palette, 16-bit, CMYK JPEG, EXIF-rotated,
animated: first frame). Anything unreadable, truncated, too small or beyond the size limit gets one
clear InputError naming the file.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_SIDE = 12000
MAX_PIXELS = 100_000_000
MIN_SIDE = 64


def _check_size(path: Path, w: int, h: int) -> None:
    if w <= 0 or h <= 0:
        raise InputError(f"image {path} is empty ({w}x{h})", "pick another portrait")
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise InputError(f"image {path} is {w}x{h}, beyond the limit of {MAX_SIDE}x{MAX_SIDE} "
                         f"and {MAX_PIXELS // 1_000_000} megapixels", "downscale it first")
    if w < MIN_SIDE or h < MIN_SIDE:
        raise InputError(f"image {path} is only {w}x{h} pixels", f"use a portrait at least {MIN_SIDE}x{MIN_SIDE}")


def _to_bgr(im) -> np.ndarray:
    """PIL image of any mode -> HxWx3 uint8 BGR."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        arr = (arr / (65535.0 if hi > 255 else 255.0) * 255.0).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(arr, "L")
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / (hi - lo + 1e-12) * 255).astype(np.uint8)
        im = Image.fromarray(arr, "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # transparent areas become white
        im = Image.alpha_composite(bg, rgba)
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def load_image(path: str | Path) -> np.ndarray:
    """Load an image file as an upright HxWx3 uint8 BGR array, or raise InputError."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist", "check the path")
    if path.stat().st_size == 0:
        raise InputError(f"image {path} is an empty file", "pick another portrait")
    try:
        # our own size limit (checked from the header, before decoding) replaces Pillow's bomb warning,
        # without changing Pillow's process-wide setting for the rest of the program
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            _check_size(path, *im.size)
            im.seek(0)  # animated: first frame
            im.load()
            im = ImageOps.exif_transpose(im) or im
            bgr = _to_bgr(im)
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InputError(f"image {path} is not a readable image ({type(exc).__name__})",
                         "use a PNG, JPEG, WebP, BMP or TIFF file") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(f"image {path} is corrupt or truncated ({exc})", "re-export or re-download it") from None
    _check_size(path, bgr.shape[1], bgr.shape[0])
    return bgr
