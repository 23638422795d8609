"""Fixtures of the engine tests: exported ONNX graphs, the native library built with CMake, and the
skip for tests that need an NVIDIA GPU with TensorRT and pycuda."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def exported_graphs(tmp_path_factory):
    """config name -> (source_encoder.onnx, frame_generator.onnx), exported once per session: the learned
    generator (zero-initialised), the graph that runs with --weights; the closed-form default graph (no
    weights) is its convolution-free subset."""
    export = pytest.importorskip("mimicam.engines.export")
    from mimicam.engines.config import get_config
    from mimicam.engines.model import build_modules

    made: dict[str, tuple[Path, Path]] = {}

    def get(name: str) -> tuple[Path, Path]:
        if name not in made:
            out = tmp_path_factory.mktemp(f"onnx-{name}")
            made[name] = export.export_onnx(get_config(name), out_dir=out, modules=build_modules(get_config(name)))
        return made[name]

    return get


def _nvcc() -> str | None:
    return shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)


@pytest.fixture(scope="session")
def native_build(tmp_path_factory) -> Path:
    """Configure and build the top-level CMakeLists.txt into a temporary folder; -> the library path."""
    if shutil.which("cmake") is None or _nvcc() is None:
        pytest.skip("cmake or nvcc (CUDA toolkit) not installed")
    from mimicam.engines.native_lib import library_name

    build = tmp_path_factory.mktemp("native-build")
    env = dict(os.environ, CUDACXX=_nvcc())
    for cmd in (["cmake", "-S", str(REPO), "-B", str(build)], ["cmake", "--build", str(build), "-j", "2"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    lib = build / library_name()
    assert lib.exists(), f"{lib} was not built"
    return lib


@pytest.fixture(scope="session")
def trt_ready() -> None:
    """Skip unless TensorRT engines can be built and run here (NVIDIA GPU, TensorRT 10, pycuda)."""
    from mimicam.engines import _gpu

    reason = _gpu.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
