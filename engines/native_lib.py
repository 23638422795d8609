"""ctypes loader for the native GPU post-processing library built by the top-level ``CMakeLists.txt``
(``engines/native``). The TensorRT runtime uses it on its own CUDA stream so the full frame never
round-trips through the CPU; without it the runtime still works (paste on the CPU, no CUDA graph).

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

ABI_VERSION = 1
BUILD_HINT = "build it with: cmake -S . -B build && cmake --build build (needs the CUDA toolkit)"

_P, _I, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
_SIGNATURES: dict[str, list] = {
    "mm_chw_to_hwc_u8": [_P, _P, _I, _I, _I, _P],
    "mm_paste_crop": [_P, _P, _I, _P, _P, _I, _I, _I, _F, _F, _F, _F, _F, _F, _F, _P],
    "mm_add_residual": [_P, _P, _I, _I, _I, _F, _P],
    "mm_blend_bgra": [_P, _I, _I, _I, _P, _I, _I, _I, _I, _P],
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

    def chw_to_hwc_u8(self, chw: int, hwc: int, h: int, w: int, pitch: int, stream: int) -> None:
        self._check(self._lib.mm_chw_to_hwc_u8(chw, hwc, h, w, pitch, stream), "chw_to_hwc_u8")

    def paste_crop(self, crop: int, mask: int, size: int, base: int, dst: int, h: int, w: int, pitch: int,
                   affine, feather: float, stream: int) -> None:
        """``affine``: 2x3 map from portrait pixel centres to crop pixel centres."""
        a = [float(v) for v in (affine[0][0], affine[0][1], affine[0][2], affine[1][0], affine[1][1], affine[1][2])]
        self._check(self._lib.mm_paste_crop(crop, mask, size, base, dst, h, w, pitch, *a, float(feather), stream),
                    "paste_crop")

    def add_residual(self, img: int, residual: int, h: int, w: int, pitch: int, strength: float, stream: int) -> None:
        self._check(self._lib.mm_add_residual(img, residual, h, w, pitch, float(strength), stream), "add_residual")

    def blend_bgra(self, img: int, h: int, w: int, pitch: int, bgra: int, bh: int, bw: int, x0: int, y0: int,
                   stream: int) -> None:
        self._check(self._lib.mm_blend_bgra(img, h, w, pitch, bgra, bh, bw, x0, y0, stream), "blend_bgra")

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
