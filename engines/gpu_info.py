"""The GPU section of ``mimicam doctor``: GPU, driver, CUDA, TensorRT, pycuda, native kernels, and
whether a TensorRT engine is cached for the current model. Each check carries how to fix it.
Never raises and never imports TensorRT or pycuda outside ``_gpu``."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import _gpu, native_lib
from .engine_cache import EngineCache, EngineKey, onnx_sha256
from .spec import graph_specs


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"[{'ok' if self.ok else '--'}] {self.name}: {self.detail}"
        return text + (f" -> {self.fix}" if self.fix and not self.ok else "")


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def nvidia_driver_version() -> str | None:
    out = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return out.splitlines()[0].strip() if out else None


def nvcc_version() -> str | None:
    out = _run(["nvcc", "--version"])
    m = re.search(r"release (\d+\.\d+)", out or "")
    return m.group(1) if m else None


def engine_check(config_name: str, precision: str, weights: Path | None = None,
                 cache: EngineCache | None = None) -> Check:
    name = f"TensorRT engine ({config_name}, {precision})"
    fix = f"mimicam build-engine --config {config_name} --precision {precision}"
    p = _gpu.probe()
    if p.unavailable_reason() is not None:
        return Check(name, False, "cannot be built here (see above)", "needs an NVIDIA GPU with TensorRT and pycuda")
    cache = cache or EngineCache()
    try:
        from .config import get_config
        from .graphs import ensure_graphs  # cached: cheap when the model was exported before

        cfg = get_config(config_name)
        graphs = ensure_graphs(cfg, weights)
    except Exception as exc:  # doctor reports, never raises
        return Check(name, False, f"the ONNX export failed ({type(exc).__name__}: {exc})", fix)
    reasons = []
    for path, spec in zip(graphs, graph_specs(cfg)):
        key = EngineKey(config_name, spec.graph, precision, onnx_sha256(path), p.tensorrt_version or "?",
                        _gpu.compute_capability())
        found = cache.lookup(key)
        if not found.ok:
            reasons.append(f"{spec.graph}: {found.reason}")
    if reasons:
        return Check(name, False, "; ".join(reasons), fix)
    return Check(name, True, f"cached for {p.driver.gpu_name} under {cache.engines}")


def gpu_checks(config_name: str = "lite", precision: str = "fp16", weights: Path | None = None) -> list[Check]:
    p = _gpu.probe()
    d = p.driver
    extra = _gpu.GPU_EXTRA
    checks = []
    if d.error:
        checks.append(Check("GPU", False, d.error, "TensorRT needs an NVIDIA GPU and its driver; on CPU use --backend ort"))
    else:
        cc = "%d.%d" % d.compute_capability if d.compute_capability else "?"
        too_old = d.compute_capability is not None and d.compute_capability < _gpu.MIN_COMPUTE_CAPABILITY
        checks.append(Check("GPU", not too_old, f"{d.gpu_name} (compute capability {cc}, {d.device_count} device(s))",
                            "TensorRT 10 needs compute capability 7.5+; use --backend ort"))
    drv = nvidia_driver_version()
    checks.append(Check("NVIDIA driver", d.error is None,
                        f"{drv or 'version unknown'}, supports CUDA {d.driver_cuda_version}" if d.error is None
                        else "not found", "install the NVIDIA driver (nvidia-smi must work)"))
    nvcc = nvcc_version()
    checks.append(Check("CUDA toolkit (nvcc)", nvcc is not None, f"CUDA {nvcc}" if nvcc else "not found",
                        "only needed to build the native kernels: install the CUDA toolkit"))
    checks.append(Check("TensorRT", p.tensorrt_version is not None,
                        p.tensorrt_version or f"not installed ({p.tensorrt_error})", extra))
    checks.append(Check("pycuda", p.pycuda_version is not None,
                        p.pycuda_version or f"not installed ({p.pycuda_error})", extra))
    lib = native_lib.load()
    checks.append(Check("native CUDA-graph helper", lib is not None, str(lib.path) if lib else "not built",
                        native_lib.BUILD_HINT))
    checks.append(engine_check(config_name, precision, weights))
    return checks
