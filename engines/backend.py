"""The generator runtime interface shared by torch, ONNX Runtime and TensorRT, and the registry that
opens one (``--backend auto|ort|trt|torch``).

A backend runs the two graphs of ``spec.py``: ``set_source`` runs ``source_encoder`` once per portrait
and keeps its cache (on the device, for TensorRT); ``generate`` runs ``frame_generator`` for one frame.
Buffers are allocated in ``open()``; ``generate`` allocates nothing and returns arrays that it reuses:
they are valid until the next call (copy them to keep them).
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from .errors import BackendUnavailable
from .config import GeneratorConfig
from .spec import graph_specs


class GeneratorBackend(ABC):
    name = "?"

    def __init__(self, config: GeneratorConfig, weights: Path | None = None) -> None:
        self.config = config
        self.weights = weights
        self.encoder_spec, self.generator_spec = graph_specs(config)
        self._open = False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run here, else one line saying why not and what to do."""
        return None

    @classmethod
    def describe(cls) -> str:
        """One line for `mimicam doctor`: the runtime's version and devices (call only when available)."""
        return cls.name

    @abstractmethod
    def _open_impl(self) -> None: ...

    @abstractmethod
    def _close_impl(self) -> None: ...

    @abstractmethod
    def set_source(self, source: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        """source: (1,3,S,S) float32 BGR in [0,1]; kp: (1,K,2); jac: (1,K,2,2)."""

    @abstractmethod
    def generate(self, kp: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, ...]:
        """-> the generator's outputs in ``generator_spec`` order: image (1,3,S,S) float32 BGR in [0,1], mask
        (1,1,S,S) in [0,1], flow (1,M,M,2) (crop-normalised sampling grid), paint (1,1,S,S) in [0,1].
        Outputs are reused."""

    def open(self) -> "GeneratorBackend":
        if not self._open:
            self._open_impl()
            self._open = True
        return self

    def close(self) -> None:
        if self._open:
            self._open = False
            self._close_impl()

    def __enter__(self) -> "GeneratorBackend":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


# name -> "module:class": a backend's module (and what it imports: torch, TensorRT) is only imported
# when that backend is asked for
BACKENDS = {"trt": "runtime_trt:TrtBackend", "ort": "runtime_ort:OrtBackend", "torch": "runtime_torch:TorchBackend"}


def _load(name: str) -> type[GeneratorBackend]:
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def backend_class(name: str) -> type[GeneratorBackend]:
    """Resolve a backend name; ``auto`` picks TensorRT when it can run here, else ONNX Runtime."""
    if name == "auto":
        trt = _load("trt")
        return trt if trt.unavailable_reason() is None else _load("ort")
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}", f"use one of auto, {', '.join(BACKENDS)}")
    cls = _load(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"the {name} backend cannot run here: {reason}",
                                 "use --backend ort (CPU) or run `mimicam doctor`")
    return cls


def open_backend(name: str, config: GeneratorConfig, weights: Path | None = None) -> GeneratorBackend:
    return backend_class(name)(config, weights).open()
