"""The mark's public layout, shared by the embedder and the verifier (format v2).

The mark is a luma pattern periodic in a TILE x TILE pixel tile anchored at the image's top-left
corner, made of CELL x CELL chips (GRID x GRID per tile), each +-1, bilinearly smoothed. The chips do
not depend on the frame counter, so any set of frames, in any order and at any rate, adds up.
N_PILOT chips carry static public signs (the detection statistic). The other chips change sign from
frame to frame, by ``flip_sign(counter)``: N_FLIP public "flip pilots", from which each frame tells
its own sign, and the spread, convolutionally coded payload. Because the signs balance out, the verifier
can subtract the window's mean and so cancel whatever the frames have in common (a still background
interferes with the payload like a fixed noise otherwise). The payload (the message, then a public CHECK_BITS hash of it that tells "misread" from "other key"):

* attributed mode: ``sid XOR pad(key, sig)`` (the session id, encrypted), ``sig`` (the keyed content
  signature of ``binding.py``) and ``tag = MAC(key, sid, sig)``. Without the key the payload is
  noise that changes with the content: it links nothing;
* anonymous mode: one fixed public codeword (``ANONYMOUS_BITS``), the same for everybody.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import ecc
from .binding import SIG_BITS
from .keys import mac24, sid_pad

TILE = 256
CELL = 8
GRID = TILE // CELL          # 32 chips per tile side
N_PILOT = 544                # static pilot chips
N_FLIP = 64                  # flip pilots (the rest carry payload)
SID_BITS, TAG_BITS, CHECK_BITS = 24, 24, 8
MESSAGE_BITS = SID_BITS + SIG_BITS + TAG_BITS
PAYLOAD_BITS = MESSAGE_BITS + CHECK_BITS     # + a public check: tells a misread payload from another key's
CODED_BITS = ecc.coded_length(PAYLOAD_BITS)
_SEED = b"mimicam-mark-v2"


@dataclass(frozen=True)
class Layout:
    """Chip tables, each (GRID, GRID)."""

    pilot: np.ndarray       # float32 +-1 at static pilot chips, 0 elsewhere
    pilot_mask: np.ndarray  # float32 1 at static pilot chips
    flip: np.ndarray        # float32 +-1 at flip pilot chips, 0 elsewhere
    bit: np.ndarray         # int16 coded-bit index at payload chips, -1 elsewhere
    spread: np.ndarray      # float32 +-1 at payload chips, 0 elsewhere


def _build_layout() -> Layout:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(_SEED).digest()[:8], "big"))
    n = GRID * GRID
    pilot, flip, spread = (np.zeros(n, np.float32) for _ in range(3))
    bit = np.full(n, -1, np.int16)
    order = rng.permutation(n)
    p, f, c = order[:N_PILOT], order[N_PILOT:N_PILOT + N_FLIP], order[N_PILOT + N_FLIP:]
    pilot[p] = rng.integers(0, 2, p.size) * 2 - 1
    flip[f] = rng.integers(0, 2, f.size) * 2 - 1
    bit[c] = rng.permutation(c.size) % CODED_BITS
    spread[c] = rng.integers(0, 2, c.size) * 2 - 1
    shape = (GRID, GRID)
    return Layout(pilot.reshape(shape), (pilot != 0).astype(np.float32).reshape(shape), flip.reshape(shape),
                  bit.reshape(shape), spread.reshape(shape))


LAYOUT = _build_layout()
_SIGNS = np.random.default_rng(int.from_bytes(hashlib.sha256(_SEED + b"/signs").digest()[:8], "big")).integers(
    0, 2, 4096) * 2 - 1


def flip_sign(counter: int) -> int:
    """+1 or -1: the sign of frame ``counter``'s flipping chips (balanced over any run of frames)."""
    return int(_SIGNS[counter % _SIGNS.size])


def _bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _check(message: int) -> int:
    digest = hashlib.sha256(b"mimicam-check" + message.to_bytes(-(-MESSAGE_BITS // 8), "big")).digest()
    return int.from_bytes(digest[:2], "big") >> (16 - CHECK_BITS)


def _with_check(message: int) -> np.ndarray:
    return _bits((message << CHECK_BITS) | _check(message), PAYLOAD_BITS)


ANONYMOUS_BITS = _with_check(int.from_bytes(hashlib.sha256(b"mimicam-anonymous-v2").digest(), "big")
                             >> (256 - MESSAGE_BITS))


def _coded(bits: np.ndarray) -> np.ndarray:
    return ecc.encode(bits).astype(np.float32) * 2 - 1


def readable(bits: np.ndarray) -> bool:
    """The decoded payload's public check holds (it was read as sent, with probability 1 - 2^-8)."""
    value = int("".join(str(int(b)) for b in bits), 2)
    return (value & ((1 << CHECK_BITS) - 1)) == _check(value >> CHECK_BITS)


def pack_payload(key: bytes, session_id: int, signature: int) -> np.ndarray:
    """-> coded payload bits as float32 +-1, (CODED_BITS,)."""
    cipher = session_id ^ sid_pad(key, signature)
    value = (((cipher << SIG_BITS) | signature) << TAG_BITS) | mac24(key, session_id, signature)
    return _coded(_with_check(value))


def anonymous_payload() -> np.ndarray:
    """The public anonymous codeword, coded as float32 +-1."""
    return _coded(ANONYMOUS_BITS)


def unpack_payload(bits: np.ndarray) -> tuple[int, int, int]:
    """Decoded payload bits -> (encrypted session id, signature, tag)."""
    value = int("".join(str(int(b)) for b in bits), 2) >> CHECK_BITS
    tag = value & ((1 << TAG_BITS) - 1)
    signature = (value >> TAG_BITS) & ((1 << SIG_BITS) - 1)
    return value >> (SIG_BITS + TAG_BITS), signature, tag


def open_payload(key: bytes, bits: np.ndarray) -> tuple[int, int] | None:
    """-> (session id, signature) when the tag is valid under ``key``, else None."""
    cipher, signature, tag = unpack_payload(bits)
    sid = cipher ^ sid_pad(key, signature)
    return (sid, signature) if tag == mac24(key, sid, signature) else None


def chip_tiles(coded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (static, flipping) GRID x GRID chip values of a payload; frame ``n`` carries
    ``static + flip_sign(n) * flipping``."""
    payload = np.where(LAYOUT.bit >= 0, coded[np.maximum(LAYOUT.bit, 0)], 0.0)
    return LAYOUT.pilot.copy(), (LAYOUT.flip + LAYOUT.spread * payload).astype(np.float32)
