"""User-facing errors: one line that says what went wrong and what to do.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; no traceback reaches the user.
"""
from __future__ import annotations


class MimicamError(Exception):
    """Base class. ``hint`` says what the user can do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class InputError(MimicamError):
    """An image, video or argument the user gave cannot be used."""


class NoFaceError(InputError):
    """No face was found where one is needed."""


class CameraError(MimicamError):
    """The camera is missing, busy or stopped delivering frames."""


class VirtualCameraError(MimicamError):
    """No virtual-camera driver, or the device cannot be opened."""


class DisplayError(MimicamError):
    """A preview window was asked for but no display is available."""


class ModelError(MimicamError):
    """A model file is missing, corrupt, of the wrong hash or of mismatched shapes."""


class BackendUnavailable(MimicamError):
    """A generator backend (TensorRT, ONNX Runtime, torch) cannot run on this machine."""
