"""The network guard: mimicam needs no network, so the native libraries it loads get none.

MediaPipe 1.2.x from PyPI reports usage statistics to Google: once its face landmarker is created, a
worker thread of the library resolves ``play.googleapis.com`` and posts to it over libcurl, at the start
and periodically after (see MediaPipe's privacy notice). It has no switch to turn this off. ONNX Runtime
1.29+ has telemetry of its own (switched off by its variable, see ``_ort``). Activists use mimicam so
that they are not seen; the tool they run must not announce itself, so ``install()`` runs before either
library is imported and puts two locks on the process:

1. **Every platform:** libcurl's proxy variables name a dead local address (``DEAD_PROXY``) and
   ``NO_PROXY`` is cleared, so a request that native code makes through libcurl never leaves the machine
   (no name lookup either: the proxy resolves names).
2. **Linux (x86-64, arm64):** a seccomp filter on every thread of the process, and on every thread and
   child process started later, makes ``socket(AF_INET | AF_INET6, ...)`` fail with EACCES. Local
   (Unix) sockets still work: the X display, the virtual camera. Nothing can open a network socket
   after this, whatever library asks.

``MIMICAM_ALLOW_NETWORK=1`` turns both off (``status()`` says so); the filter is also left off where the
X display is reached over TCP (``DISPLAY=host:0``, SSH X forwarding), which it would cut.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import threading

ALLOW_ENV = "MIMICAM_ALLOW_NETWORK"
DEAD_PROXY = "http://127.0.0.1:9"        # the discard port on this machine: nothing is forwarded anywhere
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")

# seccomp: the architectures we know the numbers of: AUDIT_ARCH value, __NR_socket, __NR_seccomp
_ARCH = {"x86_64": (0xC000003E, 41, 317), "aarch64": (0xC00000B7, 198, 277), "arm64": (0xC00000B7, 198, 277)}
_AF_INET, _AF_INET6 = 2, 10
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 1, 1
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_X32_BIT = 0x40000000

_lock = threading.Lock()
_state = {"status": "not installed", "engaged": False}


def _filter_program(audit_arch: int, nr_socket: int) -> bytes:
    """Classic BPF over ``struct seccomp_data`` (nr at 0, arch at 4, args[0] low word at 16, little
    endian): other architectures and other system calls pass; x32 calls (never made by this process)
    and socket() for the two internet families are refused with EACCES."""
    deny = _RET_ERRNO | errno.EACCES
    prog = [
        (_LD_W_ABS, 0, 0, 4),              # 0: A = arch
        (_JEQ_K, 0, 7, audit_arch),        # 1: not ours -> 9 allow (a filter for one ABI only)
        (_LD_W_ABS, 0, 0, 0),              # 2: A = nr
        (_JSET_K, 4, 0, _X32_BIT),         # 3: x32 -> 8 deny
        (_JEQ_K, 0, 4, nr_socket),         # 4: not socket -> 9 allow
        (_LD_W_ABS, 0, 0, 16),             # 5: A = domain
        (_JEQ_K, 1, 0, _AF_INET),          # 6: AF_INET -> 8 deny
        (_JEQ_K, 0, 1, _AF_INET6),         # 7: AF_INET6 -> 8 deny, else 9 allow
        (_RET_K, 0, 0, deny),              # 8
        (_RET_K, 0, 0, _RET_ALLOW),        # 9
    ]
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def _tcp_display() -> bool:
    display = os.environ.get("DISPLAY", "")
    host = display.rsplit(":", 1)[0] if ":" in display else ""
    return host not in ("", "unix") and not host.startswith("/")


def _install_seccomp() -> tuple[str, bool]:
    """-> (what was done, whether the guard is as strong as this platform allows)."""
    if platform.system() != "Linux":
        return "no socket filter on this OS (only libcurl's proxy is pinned)", True
    arch = _ARCH.get(platform.machine())
    if arch is None:
        return f"no socket filter for {platform.machine()} (only libcurl's proxy is pinned)", True
    if _tcp_display():
        return "socket filter off: the X display is reached over TCP (only libcurl's proxy is pinned)", True
    audit_arch, nr_socket, nr_seccomp = arch
    code = _filter_program(audit_arch, nr_socket)
    n = len(code) // 8
    buf = ctypes.create_string_buffer(code, len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(n, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"socket filter unavailable (prctl: {os.strerror(ctypes.get_errno())})", False
    rc = libc.syscall(ctypes.c_long(nr_seccomp), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                      ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
    if rc != 0:
        why = os.strerror(ctypes.get_errno()) if rc < 0 else f"thread {rc} could not be synchronised"
        return f"socket filter unavailable (seccomp: {why})", False
    return "network sockets refused (seccomp), libcurl's proxy pinned", True


def install() -> str:
    """Lock this process out of the network (idempotent; see the module text). Returns ``status()``."""
    with _lock:
        if _state["status"] != "not installed":
            return _state["status"]
        if os.environ.get(ALLOW_ENV, "").strip() not in ("", "0"):
            _state["status"] = f"off ({ALLOW_ENV} is set)"
            return _state["status"]
        for name in PROXY_VARS:
            os.environ[name] = DEAD_PROXY
        for name in NO_PROXY_VARS:
            os.environ.pop(name, None)
        _state["status"], _state["engaged"] = _install_seccomp()
        return _state["status"]


def status() -> str:
    return _state["status"]


def engaged() -> bool:
    """True once ``install`` has locked the process as far as this platform allows (False when it was
    turned off by ``ALLOW_ENV``, or the kernel refused the filter)."""
    return bool(_state["engaged"])
