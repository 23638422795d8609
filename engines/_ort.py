"""The one module that imports ONNX Runtime.

ONNX Runtime 1.29+ ships telemetry on Linux and macOS too: on first use it writes a device id and an
event store under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and may upload events. Nothing
from mimicam may leave the machine or be written where the user did not ask, so the runtime's own
switch, ``ORT_DISABLE_TELEMETRY=1``, is set before it is imported (it has no effect afterwards).
"""
from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

from . import netguard

TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def onnxruntime() -> ModuleType:
    netguard.install()
    if "onnxruntime" not in sys.modules:
        os.environ[TELEMETRY_ENV] = "1"
    elif os.environ.get(TELEMETRY_ENV) != "1":
        logging.getLogger("mimicam").warning(
            "onnxruntime was imported before mimicam could switch its telemetry off; set %s=1", TELEMETRY_ENV)
    import onnxruntime as ort

    return ort
