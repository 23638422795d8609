"""The mark's public layout, shared by the embedder and the verifier.

The mark is a luma pattern periodic in a TILE x TILE pixel tile anchored at the image's top-left
corner, made of CELL x CELL chips (GRID x GRID per tile), each +-1, bilinearly smoothed. Its content
changes with the frame counter: frame ``n`` uses phase ``n % PHASES``; in each phase the chips are
split at random into pilot chips (public signs; the detection statistic) and payload chips (spread
coded payload bits). The payload -- session id, epoch ``n // PHASES`` and a 24-bit HMAC over both --
changes once per epoch. Everything here is public; the key only enters through the HMAC.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import ecc
from .keys import mac24

TILE = 128
CELL = 8
GRID = TILE // CELL          # 16 chips per tile side
PHASES = 32                  # frame counter modulo this selects the chip layout
N_PILOT = 96                 # pilot chips per phase (the rest carry payload)
SID_BITS, EPOCH_BITS, TAG_BITS = 24, 16, 24
PAYLOAD_BITS = SID_BITS + EPOCH_BITS + TAG_BITS
CODED_BITS = ecc.coded_length(PAYLOAD_BITS)
_SEED = b"mimicam-mark-v1"


@dataclass(frozen=True)
class Layout:
    """Per-phase chip tables, each (PHASES, GRID, GRID)."""

    pilot: np.ndarray       # float32 +-1 at pilot chips, 0 elsewhere
    pilot_mask: np.ndarray  # float32 1 at pilot chips
    bit: np.ndarray         # int16 coded-bit index at payload chips, -1 at pilot chips
    spread: np.ndarray      # float32 +-1 at payload chips, 0 elsewhere


def _build_layout() -> Layout:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(_SEED).digest()[:8], "big"))
    n = GRID * GRID
    pilot = np.zeros((PHASES, n), np.float32)
    bit = np.full((PHASES, n), -1, np.int16)
    spread = np.zeros((PHASES, n), np.float32)
    for k in range(PHASES):
        order = rng.permutation(n)
        p, c = order[:N_PILOT], order[N_PILOT:]
        pilot[k, p] = rng.integers(0, 2, p.size) * 2 - 1
        bit[k, c] = rng.permutation(c.size) % CODED_BITS
        spread[k, c] = rng.integers(0, 2, c.size) * 2 - 1
    shape = (PHASES, GRID, GRID)
    return Layout(pilot.reshape(shape), (pilot != 0).astype(np.float32).reshape(shape),
                  bit.reshape(shape), spread.reshape(shape))


LAYOUT = _build_layout()


def pack_payload(key: bytes, session_id: int, epoch: int) -> np.ndarray:
    """-> coded payload bits as float32 +-1, (CODED_BITS,)."""
    epoch %= 1 << EPOCH_BITS
    value = (session_id << (EPOCH_BITS + TAG_BITS)) | (epoch << TAG_BITS) | mac24(key, session_id, epoch)
    bits = np.array([(value >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], np.uint8)
    return ecc.encode(bits).astype(np.float32) * 2 - 1


def unpack_payload(bits: np.ndarray) -> tuple[int, int, int]:
    """Decoded payload bits -> (session id, epoch, tag)."""
    value = int("".join(str(int(b)) for b in bits), 2)
    tag = value & ((1 << TAG_BITS) - 1)
    epoch = (value >> TAG_BITS) & ((1 << EPOCH_BITS) - 1)
    return value >> (EPOCH_BITS + TAG_BITS), epoch, tag


def chip_tile(phase: int, coded: np.ndarray) -> np.ndarray:
    """The GRID x GRID +-1 chip values of one frame."""
    k = phase % PHASES
    payload = np.where(LAYOUT.bit[k] >= 0, coded[np.maximum(LAYOUT.bit[k], 0)], 0.0)
    return (LAYOUT.pilot[k] + LAYOUT.spread[k] * payload).astype(np.float32)
