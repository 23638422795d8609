"""Every GPU-side module imports where tensorrt and pycuda cannot, and each entry point says clearly,
in one line, that TensorRT cannot run here."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mimicam.engines import _gpu

MODULES = ["mimicam.engines._gpu", "mimicam.engines.trt_build", "mimicam.engines.engine_cache",
           "mimicam.engines.runtime_trt", "mimicam.engines.native_lib", "mimicam.engines.gpu_info",
           "mimicam.tools.build_engine"]

BLOCKED = """
import sys
for name in ("tensorrt", "pycuda", "pycuda.driver", "pycuda.autoinit"):
    sys.modules[name] = None  # any import of them raises ImportError
"""


def test_modules_import_with_tensorrt_and_pycuda_blocked():
    code = BLOCKED + f"""
import importlib
for m in {MODULES!r}:
    importlib.import_module(m)
from mimicam.engines.runtime_trt import TrtBackend
reason = TrtBackend.unavailable_reason()
assert isinstance(reason, str) and reason and "\\n" not in reason, reason
print(reason)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_importing_does_not_import_tensorrt_or_pycuda():
    code = f"""
import importlib, sys
for m in {MODULES!r}:
    importlib.import_module(m)
loaded = [m for m in ("tensorrt", "pycuda") if m in sys.modules]
assert not loaded, loaded
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


needs_no_gpu = pytest.mark.skipif(_gpu.unavailable_reason() is None, reason="TensorRT can run here")


@needs_no_gpu
def test_build_engine_says_no_gpu(capsys):
    from mimicam.tools.cli import main

    assert main(["build-engine", "--config", "vox256", "--precision", "fp16"]) == 2
    err = capsys.readouterr().err
    assert "cannot build TensorRT engines here" in err and len(err.strip().splitlines()) == 1
    if _gpu.driver_info().error:
        assert "no NVIDIA GPU present" in err


@needs_no_gpu
def test_trt_backend_is_refused_and_auto_falls_back():
    from mimicam.engines.backend import backend_class
    from mimicam.realtime.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="trt backend cannot run here"):
        backend_class("trt")
    assert backend_class("auto").name == "ort"


@needs_no_gpu
def test_doctor_gpu_section_explains_each_failure():
    from mimicam.engines.gpu_info import gpu_checks

    checks = gpu_checks("lite", "fp16")
    names = [c.name for c in checks]
    for expected in ("GPU", "NVIDIA driver", "CUDA toolkit (nvcc)", "TensorRT", "pycuda", "native CUDA-graph helper"):
        assert expected in names
    assert any(n.startswith("TensorRT engine") for n in names)
    for c in checks:
        assert "\n" not in c.line()
        if not c.ok:
            assert c.fix, c.name
    if _gpu.driver_info().error:
        assert "no NVIDIA GPU present" in checks[0].line()


def test_bad_environment_values_are_a_clear_error(monkeypatch):
    from mimicam.engines.errors import InputError
    from mimicam.engines.files import env_int

    monkeypatch.setenv("MIMICAM_ORT_THREADS", "four")
    with pytest.raises(InputError, match="MIMICAM_ORT_THREADS='four' is not a whole number"):
        env_int("MIMICAM_ORT_THREADS", 0, 0, 256)
    monkeypatch.setenv("MIMICAM_ORT_THREADS", "999")
    with pytest.raises(InputError, match="out of range"):
        env_int("MIMICAM_ORT_THREADS", 0, 0, 256)
    monkeypatch.setenv("MIMICAM_ORT_THREADS", " 2 ")
    assert env_int("MIMICAM_ORT_THREADS", 0, 0, 256) == 2
    monkeypatch.delenv("MIMICAM_ORT_THREADS")
    assert env_int("MIMICAM_ORT_THREADS", 7) == 7
