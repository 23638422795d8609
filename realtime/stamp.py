"""A frame counter written into pixels and read back, for glass-to-glass latency.

The code is a 16x4 grid of 8x8 px blocks in the top-left corner (128x32 px, aligned to the 8/16 px
blocks of video codecs). It carries 32 bits: a 24-bit counter and a CRC-8 of it, each bit as a pair
of blocks, bright-dark for 1 and dark-bright for 0. Reading compares the centres of the two blocks of
each pair, so it needs no threshold on absolute brightness and survives lossy H.264 / MPEG-4 encoding,
4:2:0 chroma subsampling and level shifts; a stamp whose pairs are not all clearly different, or whose
CRC does not match, reads as ``None``.
"""
from __future__ import annotations

import numpy as np

BLOCK = 8
ROWS, COLS = 4, 16                       # blocks; COLS // 2 bits per row
WIDTH, HEIGHT = COLS * BLOCK, ROWS * BLOCK
VALUE_BITS = 24
MAX_VALUE = (1 << VALUE_BITS) - 1
BRIGHT, DARK = 224, 32
MIN_CONTRAST = 48.0                      # least luma difference of a pair that counts as a bit

_SHIFTS = np.arange(31, -1, -1, dtype=np.uint64)  # most significant bit first


def _crc8(value: int) -> int:
    """CRC-8 (polynomial 0x07) of the counter's three bytes, big-endian."""
    crc = 0
    for byte in value.to_bytes(3, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _check_image(image: np.ndarray) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"stamp image: expected HxWx3 uint8, got {getattr(image, 'dtype', type(image))} "
                         f"{getattr(image, 'shape', '')}")
    if image.shape[0] < HEIGHT or image.shape[1] < WIDTH:
        raise ValueError(f"stamp image: expected at least {WIDTH}x{HEIGHT} px, got {image.shape[1]}x{image.shape[0]}")


def stamp_counter(image: np.ndarray, value: int) -> None:
    """Write ``value`` (0 .. 2**24-1) into the top-left 128x32 px of ``image`` (HxWx3 uint8), in place."""
    _check_image(image)
    if not 0 <= value <= MAX_VALUE:
        raise ValueError(f"stamp value: expected 0..{MAX_VALUE}, got {value}")
    word = np.uint64((value << 8) | _crc8(value))
    bits = ((word >> _SHIFTS) & np.uint64(1)).astype(bool).reshape(ROWS, COLS // 2)
    levels = np.empty((ROWS, COLS), np.uint8)
    levels[:, 0::2] = np.where(bits, BRIGHT, DARK)
    levels[:, 1::2] = np.where(bits, DARK, BRIGHT)
    image[:HEIGHT, :WIDTH] = levels.repeat(BLOCK, 0).repeat(BLOCK, 1)[:, :, None]


def read_counter(image: np.ndarray) -> int | None:
    """The counter stamped into ``image`` by ``stamp_counter``, or ``None`` when there is no valid stamp."""
    _check_image(image)
    region = image[:HEIGHT, :WIDTH].astype(np.float32)
    luma = region @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR
    centres = luma.reshape(ROWS, BLOCK, COLS, BLOCK)[:, 2:6, :, 2:6].mean(axis=(1, 3))
    diff = centres[:, 0::2] - centres[:, 1::2]
    if float(np.abs(diff).min()) < MIN_CONTRAST:
        return None
    word = 0
    for bit in (diff.ravel() > 0):
        word = (word << 1) | int(bit)
    value, crc = word >> 8, word & 0xFF
    return value if _crc8(value) == crc else None
