"""Reference backend: the torch modules themselves (CPU, or CUDA when torch sees a GPU)."""
from __future__ import annotations

import numpy as np
import torch

from .backend import GeneratorBackend
from .model import build_modules


class TorchBackend(GeneratorBackend):
    name = "torch"

    def _open_impl(self) -> None:
        from .weights import load_weights

        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.encoder, self.generator = build_modules(self.config, learned=self.weights is not None)
        if self.weights is not None:
            load_weights((self.encoder, self.generator), self.config, self.weights)
        self.encoder.to(self.device), self.generator.to(self.device)
        self._cache: tuple[torch.Tensor, ...] | None = None
        self._outputs = tuple(np.empty(t.shape, np.float32) for t in self.generator_spec.outputs)

    def _close_impl(self) -> None:
        self._cache = None

    def set_source(self, source: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        with torch.inference_mode():
            args = (torch.from_numpy(a).to(self.device) for a in (source, kp, jac))
            self._cache = tuple(self.encoder(*args))

    def generate(self, kp: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._cache is None:
            raise RuntimeError("set_source() must be called before generate()")
        with torch.inference_mode():
            got = self.generator(*self._cache, torch.from_numpy(kp).to(self.device),
                                 torch.from_numpy(jac).to(self.device))
        for buf, t in zip(self._outputs, got):
            np.copyto(buf, t.cpu().numpy())
        return self._outputs
