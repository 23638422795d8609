"""The network guard (engines/netguard.py): the seccomp program's decisions, checked by running it, and
the guard installed in fresh processes: network sockets refused on every thread and in children, local
sockets kept, libcurl's proxy pinned; MIMICAM_ALLOW_NETWORK and a TCP X display leave the filter off.
The MediaPipe landmarker itself, watched with strace, opens no network socket (tests/realtime)."""
from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
import sys

import pytest

from mimicam.engines import netguard

ARCH = netguard._ARCH.get(platform.machine())
linux_only = pytest.mark.skipif(platform.system() != "Linux" or ARCH is None,
                                reason="the socket filter is for Linux on x86-64/arm64")


def run_bpf(code: bytes, nr: int, arch: int, domain: int) -> int:
    """A small classic-BPF interpreter for the four instructions the guard uses, over seccomp_data."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, domain, 0, 0, 0, 0, 0)
    prog = [struct.unpack("<HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]
    pc, acc = 0, 0
    for _ in range(len(prog) + 1):
        op, jt, jf, k = prog[pc]
        if op == netguard._LD_W_ABS:
            acc, pc = struct.unpack_from("<I", data, k)[0], pc + 1
        elif op == netguard._JEQ_K:
            pc += 1 + (jt if acc == k else jf)
        elif op == netguard._JSET_K:
            pc += 1 + (jt if acc & k else jf)
        elif op == netguard._RET_K:
            return k
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("the program did not return")


@pytest.mark.parametrize("name", sorted(set(netguard._ARCH) - {"arm64"}))
def test_the_filter_refuses_internet_sockets_only(name):
    audit_arch, nr_socket, _ = netguard._ARCH[name]
    code = netguard._filter_program(audit_arch, nr_socket)
    deny, allow = netguard._RET_ERRNO | 13, netguard._RET_ALLOW
    assert run_bpf(code, nr_socket, audit_arch, 2) == deny          # AF_INET
    assert run_bpf(code, nr_socket, audit_arch, 10) == deny         # AF_INET6
    for domain in (1, 16, 17):                                      # AF_UNIX, AF_NETLINK, AF_PACKET
        assert run_bpf(code, nr_socket, audit_arch, domain) == allow
    assert run_bpf(code, nr_socket + 1, audit_arch, 2) == allow     # another call with the same argument
    assert run_bpf(code, 0x40000000 | nr_socket, audit_arch, 2) == deny   # the x32 ABI
    assert run_bpf(code, nr_socket, 0x40000003, 2) == allow        # another architecture's ABI: not judged


PROBE = r"""
import json, os, socket, subprocess, sys, threading
started, go, seen = threading.Event(), threading.Event(), {}
try:                               # a filter inherited from the process that started this one
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close(); seen["before"] = "allowed"
except PermissionError:
    seen["before"] = "refused"
def early():                       # a thread that exists before the guard is installed
    started.set(); go.wait()
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(); seen["early thread"] = "allowed"
    except PermissionError:
        seen["early thread"] = "refused"
t = threading.Thread(target=early); t.start(); started.wait()
from mimicam.engines import netguard
status = netguard.install()
go.set(); t.join()
for name, fam in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6)):
    try:
        socket.socket(fam, socket.SOCK_DGRAM).close(); seen[name] = "allowed"
    except PermissionError:
        seen[name] = "refused"
a, b = socket.socketpair(); a.close(); b.close(); seen["unix"] = "allowed"
r = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], capture_output=True)
seen["child"] = "allowed" if r.returncode == 0 else "refused"
seen["proxy"] = [os.environ.get(v) for v in ("HTTPS_PROXY", "http_proxy", "ALL_PROXY")]
seen["no_proxy"] = os.environ.get("NO_PROXY"), os.environ.get("no_proxy")
print(json.dumps({"status": status, "again": netguard.install(), "engaged": netguard.engaged(), "seen": seen}))
"""


def _probe(need_free: bool = False, **env_changes) -> dict:
    """Run PROBE in a fresh process. ``need_free``: the test needs a process without the filter; a seccomp
    filter is inherited and cannot be lifted, so it is skipped when this test process already holds one (an
    earlier test in it loaded MediaPipe or ONNX Runtime: run it alone, or first, to check it)."""
    env = dict(os.environ, NO_PROXY="*", no_proxy="*")
    env.pop(netguard.ALLOW_ENV, None)
    env.update(env_changes)
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    if need_free and got["seen"]["before"] == "refused":
        pytest.skip("this test process already holds the socket filter (inherited by every child)")
    return got


@linux_only
def test_installed_guard_refuses_network_sockets_everywhere_and_keeps_local_ones():
    got = _probe(DISPLAY=":0")
    if "unavailable" in got["status"]:
        pytest.skip(f"this kernel or container does not allow seccomp filters: {got['status']}")
    assert got["status"] == got["again"] == "network sockets refused (seccomp), libcurl's proxy pinned"
    assert got["engaged"]
    seen = got["seen"]
    assert {k: seen[k] for k in ("inet", "inet6", "early thread", "child")} == dict.fromkeys(
        ("inet", "inet6", "early thread", "child"), "refused")
    assert seen["unix"] == "allowed"
    assert seen["proxy"] == [netguard.DEAD_PROXY] * 3 and seen["no_proxy"] == [None, None]


def test_allow_network_turns_the_guard_off():
    got = _probe(need_free=True, **{netguard.ALLOW_ENV: "1"})
    assert got["status"] == f"off ({netguard.ALLOW_ENV} is set)" and not got["engaged"]
    assert got["seen"]["inet"] == got["seen"]["child"] == "allowed"
    assert got["seen"]["no_proxy"] == ["*", "*"]                 # the user's settings are left alone


@linux_only
def test_an_x_display_over_tcp_keeps_its_sockets_but_libcurl_stays_pinned():
    got = _probe(need_free=True, DISPLAY="localhost:10.0")
    assert got["status"].startswith("socket filter off: the X display is reached over TCP") and got["engaged"]
    assert got["seen"]["inet"] == "allowed"
    assert got["seen"]["proxy"] == [netguard.DEAD_PROXY] * 3 and got["seen"]["no_proxy"] == [None, None]
