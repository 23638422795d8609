"""The one module that touches TensorRT, pycuda and the CUDA driver. Everything is lazy: importing it
imports neither ``tensorrt`` nor ``pycuda``, so the package imports on a machine without a GPU.

- ``probe()`` says what is here (GPU, driver, TensorRT, pycuda) without raising; its
  ``unavailable_reason()`` is the one line the TensorRT backend, ``build-engine`` and ``doctor`` show.
- ``tensorrt()`` / ``cuda_driver()`` return the modules, or raise ``BackendUnavailable``.
- ``CudaContext`` makes the device's primary context (the one TensorRT's CUDA runtime uses) current.
The GPU itself is found through the driver library with ctypes, so it is reported even where
pycuda is not installed.
"""
from __future__ import annotations

import ctypes
import functools
import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

from .errors import BackendUnavailable

MIN_TENSORRT = (10, 0)
MIN_COMPUTE_CAPABILITY = (7, 5)  # TensorRT 10 supports Turing and newer
GPU_EXTRA = "pip install 'mimicam[gpu]' on the NVIDIA machine"
NO_GPU = "no NVIDIA GPU present"

_CU_ATTR_CC_MAJOR = 75  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
_CU_ATTR_CC_MINOR = 76


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass(frozen=True)
class DriverInfo:
    """What the CUDA driver says about device 0, or why it could not be asked."""

    gpu_name: str | None = None
    compute_capability: tuple[int, int] | None = None
    driver_cuda_version: str | None = None  # highest CUDA version the driver supports, e.g. "12.4"
    device_count: int = 0
    error: str | None = None


def _driver_library() -> ctypes.CDLL:
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    return ctypes.CDLL(name)


@functools.cache
def driver_info() -> DriverInfo:
    try:
        cu = _driver_library()
    except OSError:
        return DriverInfo(error=f"{NO_GPU} (the NVIDIA driver library is not installed)")
    rc = cu.cuInit(0)
    if rc != 0:
        return DriverInfo(error=f"{NO_GPU} (the NVIDIA driver found no usable GPU: cuInit error {rc})")
    version, count = ctypes.c_int(0), ctypes.c_int(0)
    cu.cuDriverGetVersion(ctypes.byref(version))
    cu.cuDeviceGetCount(ctypes.byref(count))
    cuda_version = f"{version.value // 1000}.{version.value % 1000 // 10}"
    if count.value == 0:
        return DriverInfo(driver_cuda_version=cuda_version, error=f"{NO_GPU} (the driver sees 0 devices)")
    device, name = ctypes.c_int(0), ctypes.create_string_buffer(256)
    cu.cuDeviceGet(ctypes.byref(device), 0)
    cu.cuDeviceGetName(name, 256, device)
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    cu.cuDeviceGetAttribute(ctypes.byref(major), _CU_ATTR_CC_MAJOR, device)
    cu.cuDeviceGetAttribute(ctypes.byref(minor), _CU_ATTR_CC_MINOR, device)
    return DriverInfo(name.value.decode(errors="replace"), (major.value, minor.value), cuda_version, count.value)


def _try_import(module: str) -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module(module), None
    except ImportError as exc:  # includes a wheel whose libnvinfer / libcuda cannot load
        return None, f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        return None, f"OSError: {exc}"


@dataclass(frozen=True)
class GpuProbe:
    driver: DriverInfo
    tensorrt_version: str | None
    tensorrt_error: str | None
    pycuda_version: str | None
    pycuda_error: str | None

    def unavailable_reason(self) -> str | None:
        """None when TensorRT engines can be built and run here, else one line: what and what to do."""
        d = self.driver
        if d.error:
            return d.error
        if d.compute_capability and d.compute_capability < MIN_COMPUTE_CAPABILITY:
            cc = "%d.%d" % d.compute_capability
            return f"{d.gpu_name} (compute capability {cc}) is older than TensorRT 10 supports (7.5+)"
        if self.tensorrt_version is None:
            return f"TensorRT is not installed or cannot load ({self.tensorrt_error}); {GPU_EXTRA}"
        if _version_tuple(self.tensorrt_version) < MIN_TENSORRT:
            return f"TensorRT {self.tensorrt_version} is too old (10.0+ needed); {GPU_EXTRA}"
        if self.pycuda_version is None:
            return f"pycuda is not installed or cannot load ({self.pycuda_error}); {GPU_EXTRA}"
        return None


@functools.cache
def probe() -> GpuProbe:
    """What is installed and present; never raises, imports at most once per process."""
    drv = driver_info()
    trt, trt_err = _try_import("tensorrt")
    pycuda, pycuda_err = _try_import("pycuda")
    trt_version = getattr(trt, "__version__", None) if trt else None
    pycuda_version = getattr(pycuda, "VERSION_TEXT", None) if pycuda else None
    if pycuda is not None and drv.error is None:
        _, err = _try_import("pycuda.driver")
        if err:
            pycuda_version, pycuda_err = None, err
    return GpuProbe(drv, trt_version, trt_err, pycuda_version, pycuda_err)


def unavailable_reason() -> str | None:
    return probe().unavailable_reason()


def _require() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(reason, "use --backend ort to run on the CPU; `mimicam doctor` shows details")


def tensorrt() -> ModuleType:
    """The ``tensorrt`` module (10.0+), or ``BackendUnavailable``."""
    _require()
    return importlib.import_module("tensorrt")


@functools.cache
def cuda_driver() -> ModuleType:
    """``pycuda.driver``, initialised, or ``BackendUnavailable``."""
    _require()
    cuda = importlib.import_module("pycuda.driver")
    cuda.init()
    return cuda


def compute_capability() -> str:
    """"major.minor" of device 0 (part of every engine's cache key)."""
    cc = driver_info().compute_capability
    if cc is None:
        raise BackendUnavailable(driver_info().error or NO_GPU)
    return "%d.%d" % cc


class CudaContext:
    """The primary context of one device, made current on the calling thread with ``with ctx:``.

    TensorRT's CUDA runtime uses the primary context too, so pycuda allocations, streams and
    TensorRT execution contexts all live in one context. ``release()`` drops our reference."""

    def __init__(self, device: int = 0) -> None:
        self.cuda = cuda_driver()
        self.device = self.cuda.Device(device)
        self._ctx = self.device.retain_primary_context()

    def __enter__(self) -> "CudaContext":
        self._ctx.push()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cuda.Context.pop()

    def release(self) -> None:
        if self._ctx is not None:
            self._ctx.detach()
            self._ctx = None
