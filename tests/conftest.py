"""Shared fixtures: real data from ../shared/data, isolated cache/config dirs, device markers."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# As mimicam.engines._ort does before importing ONNX Runtime: a test that imports it directly must
# not switch its telemetry on for the whole session.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from shared_data import DRIVING, PORTRAITS, need  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory):
    """Keep the ONNX export cache and the watermark key out of the user's home during tests."""
    base = tmp_path_factory.mktemp("mimicam-home")
    old = {k: os.environ.get(k) for k in ("MIMICAM_CACHE_DIR", "MIMICAM_CONFIG_DIR")}
    os.environ["MIMICAM_CACHE_DIR"] = os.environ.get("MIMICAM_TEST_CACHE_DIR") or str(base / "cache")
    os.environ["MIMICAM_CONFIG_DIR"] = str(base / "config")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread: the machine is shared, and two contended threads are far slower than one."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def driving_clip() -> Path:
    return need(DRIVING / "lp_d9_man_glasses_webcam.mp4")


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return need(PORTRAITS / "skimage_astronaut_eileen_collins.png")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu = shutil.which("nvidia-smi") is not None
    for item in items:
        if "gpu" in item.keywords and not gpu:
            item.add_marker(pytest.mark.skip(reason="no NVIDIA GPU on this machine"))
        if "camera" in item.keywords and not os.path.exists("/dev/video0") and os.name != "nt":
            item.add_marker(pytest.mark.skip(reason="no camera device"))
