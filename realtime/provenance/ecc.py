"""Error correction for the payload: rate-1/2, constraint-length-7 convolutional code (generators
133/171 octal, zero tail) with a vectorised soft-decision Viterbi decoder."""
from __future__ import annotations

import numpy as np

_K = 7
_STATES = 1 << (_K - 1)
_G = (0o133, 0o171)
TAIL = _K - 1


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


# For every next state: the input bit, its two predecessor states, and the two output bits of each branch.
_NS = np.arange(_STATES)
_INPUT = _NS >> (_K - 2)
_REG = np.stack([((_NS << 1) | b) for b in (0, 1)])          # (2, 64) full 7-bit registers
_PREV = _REG & (_STATES - 1)
_OUT = np.stack([_parity(_REG & g) for g in _G], axis=-1)     # (2, 64, 2) in {0,1}
_OUT_PM = (2 * _OUT - 1).astype(np.float64)                    # +-1


def coded_length(n_bits: int) -> int:
    return 2 * (n_bits + TAIL)


def encode(bits: np.ndarray) -> np.ndarray:
    """bits (n,) in {0,1} -> coded bits (2(n+6),) in {0,1}."""
    u = np.concatenate([np.asarray(bits, dtype=np.int64), np.zeros(TAIL, np.int64)])
    state = 0
    out = np.empty((u.size, 2), np.uint8)
    for t, b in enumerate(u):
        reg = (int(b) << (_K - 1)) | state
        out[t, 0] = bin(reg & _G[0]).count("1") & 1
        out[t, 1] = bin(reg & _G[1]).count("1") & 1
        state = reg >> 1
    return out.ravel()


def decode(soft: np.ndarray) -> np.ndarray:
    """soft (2(n+6),) real: positive means coded bit 1 is likely (any scale) -> n decoded bits."""
    y = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    steps = y.shape[0]
    metric = np.full(_STATES, -1e18)
    metric[0] = 0.0
    choice = np.empty((steps, _STATES), np.uint8)
    for t in range(steps):
        cand = metric[_PREV] + _OUT_PM @ y[t]                   # (2, 64)
        pick = cand[1] > cand[0]
        choice[t] = pick
        metric = np.where(pick, cand[1], cand[0])
    state = 0  # zero tail: the path ends in state 0
    bits = np.empty(steps, np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = _INPUT[state]
        state = _PREV[choice[t, state], state]
    return bits[: steps - TAIL]
