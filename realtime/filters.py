"""Causal One-Euro filter (Casiez et al., CHI 2012) over a fixed-size float vector; allocates once."""
from __future__ import annotations

import math

import numpy as np


class OneEuro:
    """``raw_derivative``: the speed that opens the filter is taken between raw samples, as MediaPipe's
    landmark smoothing does, instead of from the filtered value to the new sample. ``scale`` (per call)
    multiplies that speed (MediaPipe divides it by the face's size, so a cutoff means the same at any
    distance from the camera)."""

    def __init__(self, size: int, min_cutoff: float = 1.5, beta: float = 4.0, d_cutoff: float = 1.0,
                 raw_derivative: bool = False) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.raw_derivative = raw_derivative
        self._x = np.zeros(size, np.float64)
        self._dx = np.zeros(size, np.float64)
        self._raw = np.zeros(size, np.float64)
        self._tmp = np.zeros(size, np.float64)
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._t = None

    def __call__(self, x: np.ndarray, t_s: float, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` (flat, float) observed at time ``t_s`` seconds. Returns the internal state (reused)."""
        if self._t is None:
            self._x[:] = x
            self._raw[:] = x
            self._dx[:] = 0.0
            self._t = t_s
            return self._x
        dt = max(t_s - self._t, 1e-3)
        self._t = t_s
        np.subtract(x, self._raw if self.raw_derivative else self._x, out=self._tmp)
        self._tmp *= scale / dt
        self._raw[:] = x
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx += a_d * (self._tmp - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x += a * (x - self._x)
        return self._x
