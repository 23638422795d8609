"""ctypes loader for the native CUDA helper library built by the top-level ``CMakeLists.txt``
(``engines/native``): CUDA-graph capture of the TensorRT generator launch on the runtime's stream.
Without it the runtime still works (a plain ``execute_async_v3`` per frame, no CUDA graph).

Search order: ``$MIMICAM_NATIVE_LIB``, the package folder ``engines/native/``, then ``build/`` at the
top of a checkout (``cmake -S . -B build && cmake --build build``). Pointers and streams are plain
integers (``int(device_allocation)``, ``stream.handle``).
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys
from pathlib import Path

ABI_VERSION = 2
BUILD_HINT = "build it with: cmake -S . -B build && cmake --build build (needs the CUDA toolkit)"

_P = ctypes.c_void_p
_SIGNATURES: dict[str, list] = {
    "mm_graph_begin": [_P],
    "mm_graph_end": [_P, ctypes.POINTER(ctypes.c_void_p)],
    "mm_graph_launch": [_P, _P],
    "mm_graph_destroy": [_P],
}


def library_name() -> str:
    return {"win32": "mimicam_native.dll", "darwin": "libmimicam_native.dylib"}.get(sys.platform,
                                                                                   "libmimicam_native.so")


def candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    found = [Path(os.environ["MIMICAM_NATIVE_LIB"])] if os.environ.get("MIMICAM_NATIVE_LIB") else []
    return found + [here / "native" / library_name(), here.parent / "build" / library_name()]


class NativeError(RuntimeError):
    pass


class NativeLib:
    """The loaded library. Every call enqueues on ``stream`` and raises ``NativeError`` on a CUDA error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lib = ctypes.CDLL(str(path))
        self._lib.mm_version.restype = ctypes.c_int
        self._lib.mm_error_string.restype = ctypes.c_char_p
        self._lib.mm_error_string.argtypes = [ctypes.c_int]
        for name, args in _SIGNATURES.items():
            fn = getattr(self._lib, name)
            fn.argtypes, fn.restype = args, ctypes.c_int
        if self._lib.mm_version() != ABI_VERSION:
            raise NativeError(f"{path} has ABI {self._lib.mm_version()}, expected {ABI_VERSION}; {BUILD_HINT}")

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            raise NativeError(f"{what}: CUDA error {code} ({self._lib.mm_error_string(code).decode()})")

    def graph_begin(self, stream: int) -> None:
        self._check(self._lib.mm_graph_begin(stream), "graph capture begin")

    def graph_end(self, stream: int) -> int:
        out = ctypes.c_void_p()
        self._check(self._lib.mm_graph_end(stream, ctypes.byref(out)), "graph capture end")
        return int(out.value or 0)

    def graph_launch(self, graph_exec: int, stream: int) -> None:
        self._check(self._lib.mm_graph_launch(graph_exec, stream), "graph launch")

    def graph_destroy(self, graph_exec: int) -> None:
        self._check(self._lib.mm_graph_destroy(graph_exec), "graph destroy")


@functools.cache
def _load() -> tuple[NativeLib | None, str | None]:
    tried = []
    for path in candidates():
        if not path.exists():
            tried.append(str(path))
            continue
        try:
            return NativeLib(path), None
        except (OSError, AttributeError, NativeError) as exc:
            return None, f"{path} cannot be loaded ({exc}); {BUILD_HINT}"
    return None, f"native GPU kernels not built (looked for {', '.join(tried)}); {BUILD_HINT}"


def load() -> NativeLib | None:
    """The library, or None when it is not built here (see ``unavailable_reason``)."""
    return _load()[0]


def unavailable_reason() -> str | None:
    return _load()[1]
