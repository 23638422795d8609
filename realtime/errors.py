"""The user-facing errors, as the live process and the tools name them: defined once in
``mimicam.engines.errors`` (engines/ never imports realtime/), re-exported here."""
from ..engines.errors import (BackendUnavailable, CameraError, DisplayError, InputError, MimicamError,  # noqa: F401
                              ModelError, NoFaceError, VirtualCameraError)

__all__ = ["BackendUnavailable", "CameraError", "DisplayError", "InputError", "MimicamError", "ModelError",
           "NoFaceError", "VirtualCameraError"]
