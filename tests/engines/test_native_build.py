"""The native CUDA kernels compile with CMake + nvcc (CI has the toolkit, no GPU), the CMake build
skips cleanly without a toolkit, the ctypes loader binds every symbol, and — on a GPU — the kernels
match numpy references."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
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
        NativeLib(native_build).chw_to_hwc_u8(0, 0, 4, 4, 12, 0)


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


# --- on a GPU: kernels against numpy references ---------------------------------------------------

@pytest.mark.gpu
def test_kernels_match_numpy_on_gpu(native_build, trt_ready, paste_reference):
    cuda = _gpu.cuda_driver()
    lib = NativeLib(native_build)
    rng = np.random.default_rng(0)
    s, h, w = 64, 90, 120
    crop = rng.random((1, 3, s, s), dtype=np.float32)
    mask = rng.random((1, 1, s, s), dtype=np.float32)
    base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    affine = np.array([[0.9, 0.1, -10.0], [-0.1, 0.9, 5.0]], np.float32)
    residual = rng.integers(-3, 4, (h, w, 3), dtype=np.int8)
    badge = rng.integers(0, 256, (10, 30, 4), dtype=np.uint8)
    with _gpu.CudaContext():
        stream = cuda.Stream()
        d_crop, d_mask, d_base = cuda.to_device(crop), cuda.to_device(mask), cuda.to_device(base)
        d_dst, d_res, d_badge = cuda.mem_alloc(base.nbytes), cuda.to_device(residual), cuda.to_device(badge)
        d_hwc = cuda.mem_alloc(s * s * 3)
        lib.chw_to_hwc_u8(int(d_crop), int(d_hwc), s, s, 3 * s, stream.handle)
        lib.paste_crop(int(d_crop), int(d_mask), s, int(d_base), int(d_dst), h, w, 3 * w, affine, 3.0, stream.handle)
        pasted = np.empty_like(base)
        cuda.memcpy_dtoh_async(pasted, d_dst, stream)
        lib.add_residual(int(d_dst), int(d_res), h, w, 3 * w, 2.0, stream.handle)
        lib.blend_bgra(int(d_dst), h, w, 3 * w, int(d_badge), 10, 30, 100, 85, stream.handle)  # clipped
        final, hwc = np.empty_like(base), np.empty((s, s, 3), np.uint8)
        cuda.memcpy_dtoh_async(final, d_dst, stream)
        cuda.memcpy_dtoh_async(hwc, d_hwc, stream)
        stream.synchronize()
    ref_hwc = np.clip(np.rint(crop[0].transpose(1, 2, 0) * 255), 0, 255)
    assert np.abs(hwc.astype(int) - ref_hwc).max() <= 1
    assert np.abs(pasted.astype(int) - paste_reference(crop, mask, base, affine, 3.0)).max() <= 1
    ref = np.clip(pasted + 2.0 * residual, 0, 255)
    region = ref[85:90, 100:120].astype(np.float32)
    a = badge[:5, :20, 3:4] / 255.0
    ref[85:90, 100:120] = region * (1 - a) + badge[:5, :20, :3] * a
    assert np.abs(final.astype(int) - np.rint(ref)).max() <= 1
