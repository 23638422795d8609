"""`mimicam doctor`: what works on this machine and how to fix what does not: models, ONNX Runtime,
camera, virtual camera, display; the GPU section comes from ``mimicam.engines.gpu_info``."""
from __future__ import annotations

import argparse
import os
import platform

from ..engines.gpu_info import Check, gpu_checks
from ..realtime.assets import SHA256, verified_asset
from ..realtime.errors import BackendUnavailable, MimicamError
from ..realtime.sinks import display_available, vcam_install_hint


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("doctor", help="check camera, virtual camera, ONNX Runtime, TensorRT/GPU and models")
    p.add_argument("--camera", type=int, default=0, metavar="N", help="camera index to try (default 0)")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite", help="config whose engine cache to check")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    text, essentials_ok = report(args.camera, args.config)
    print(text)
    return 0 if essentials_ok else 1


def model_checks() -> list[Check]:
    out = []
    for name in SHA256:
        try:
            verified_asset(name)
            out.append(Check(f"shipped {name}", True, "SHA-256 verified"))
        except MimicamError as exc:
            out.append(Check(f"shipped {name}", False, str(exc), "reinstall mimicam"))
    return out


def runtime_checks() -> list[Check]:
    out = []
    from ..engines.backend import backend_class

    try:
        out.append(Check("ONNX Runtime", True, backend_class("ort").describe()))
    except BackendUnavailable as exc:
        out.append(Check("ONNX Runtime", False, exc.message, exc.hint))
    from ..engines import netguard

    guard = netguard.install()
    out.append(Check("network guard", netguard.engaged(), guard, f"unset {netguard.ALLOW_ENV}"
                     if os.environ.get(netguard.ALLOW_ENV) else "the kernel refused the socket filter"))
    try:
        import mediapipe

        out.append(Check("MediaPipe", True, getattr(mediapipe, "__version__", "installed")))
    except ImportError as exc:
        out.append(Check("MediaPipe", False, str(exc), "pip install mediapipe"))
    from ..realtime import face_tracker

    if face_tracker.available():
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("ai-edge-litert")
        except PackageNotFoundError:
            v = "installed"
        out.append(Check("face tracking", True, f"LiteRT {v}: the landmark model on {face_tracker.THREADS} threads"))
    else:
        out.append(Check("face tracking", True, "MediaPipe's VIDEO mode (LiteRT is not installed: landmarks take "
                                                "about twice as long)"))
    return out


def camera_check(index: int = 0) -> Check:
    import cv2

    cap = cv2.VideoCapture(index)
    try:
        if not cap.isOpened():
            return Check(f"camera {index}", False, "cannot be opened",
                         "plug in a webcam, close other programs using it, check permissions (Linux: 'video' group)")
        ok, frame = cap.read()
        if not ok or frame is None:
            return Check(f"camera {index}", False, "opens but delivers no frames", "is another program using it?")
        return Check(f"camera {index}", True, f"{frame.shape[1]}x{frame.shape[0]}")
    finally:
        cap.release()


def vcam_check() -> Check:
    try:
        import pyvirtualcam
    except ImportError:
        return Check("virtual camera", False, "pyvirtualcam not installed", "pip install pyvirtualcam")
    try:
        with pyvirtualcam.Camera(width=320, height=240, fps=30) as cam:
            return Check("virtual camera", True, f"{cam.device} ({cam.backend})")
    except (RuntimeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check("virtual camera", False, f"no driver ({first})", vcam_install_hint())


def display_check() -> Check:
    ok = display_available()
    return Check("display (preview window)", ok, "available" if ok else "none",
                 "run in a desktop session, or use --output vcam/file/null")


def all_checks(camera: int = 0, config: str = "lite") -> list[Check]:
    return [*model_checks(), *runtime_checks(), camera_check(camera), vcam_check(), display_check(),
            *gpu_checks(config)]


def report(camera: int = 0, config: str = "lite") -> tuple[str, bool]:
    checks = all_checks(camera, config)
    head = f"mimicam doctor on {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return "\n".join([head, *(c.line() for c in checks)]), all(c.ok for c in checks[:4])
