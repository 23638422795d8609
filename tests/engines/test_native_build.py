"""The native CUDA helpers compile with CMake + nvcc (CI has the toolkit, no GPU), the CMake build
skips cleanly without a toolkit, and the ctypes loader binds every symbol."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mimicam.engines import _gpu
from mimicam.engines.native_lib import ABI_VERSION, NativeError, NativeLib

REPO = Path(__file__).resolve().parents[2]


def test_kernels_compile_and_load(native_build):
    lib = NativeLib(native_build)
    assert lib._lib.mm_version() == ABI_VERSION


def test_calls_without_a_gpu_fail_with_a_cuda_error_not_a_crash(native_build):
    if _gpu.driver_info().error is None:
        pytest.skip("a GPU is present")
    with pytest.raises(NativeError, match="CUDA error"):
        NativeLib(native_build).graph_launch(0, 0)


def test_cmake_skips_cleanly_without_cuda_toolkit(tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_PATH", "CUDA_HOME")}
    env["PATH"] = "/usr/bin:/bin"
    if shutil.which("nvcc", path=env["PATH"]):
        pytest.skip("nvcc is in /usr/bin: cannot hide the toolkit")
    done = subprocess.run(["cmake", "-S", str(REPO), "-B", str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no CUDA toolkit found" in done.stderr + done.stdout
