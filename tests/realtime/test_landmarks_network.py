"""MediaPipe 1.2.x reports usage to Google (play.googleapis.com) from a native worker thread as soon as a
landmarker exists. Watched with strace (every thread, every system call that makes a socket or connects),
the landmarker as mimicam opens it tracks a real clip for 7 s and no network socket ever exists, and
nothing connects anywhere but to local sockets. Skips where strace is missing or may not trace."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from shared_data import DRIVING, need

CODE = r"""
import sys, time, cv2
from mimicam.realtime.landmarks import LandmarkStage
cap = cv2.VideoCapture(sys.argv[1])
frames = [cap.read()[1] for _ in range(30)]
found = 0
with LandmarkStage() as lm:
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 7.0:      # MediaPipe's reporter posts at the start, then every few seconds
        found += lm.detect(frames[i % len(frames)], i * 33_000_000) is not None
        i += 1
        time.sleep(0.02)
print("faces", found, "of", i)
"""
NET_SOCKET = re.compile(r"socket\((AF_INET6?|PF_INET6?)\b.*= (\d+)$")         # one made: an fd came back
NET_CONNECT = re.compile(r"connect\(\d+, \{sa_family=AF_INET6?\b")
TRIED = re.compile(r"socket\((AF_INET6?|PF_INET6?)\b")


def test_the_landmarker_opens_no_network_socket(tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("no strace here (apt-get install strace)")
    clip = need(DRIVING / "lp_d9_man_glasses_webcam.mp4")
    log = tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items() if k != "MIMICAM_ALLOW_NETWORK"}
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log),
                        sys.executable, "-c", CODE, str(clip)], env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "ptrace" in r.stderr.lower():
        pytest.skip(f"strace may not trace here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr[-2000:]
    faces, _, frames = r.stdout.split()[1:4]
    assert int(faces) >= int(frames) * 0.9                  # the landmarker really ran on the faces
    lines = log.read_text().splitlines()
    made = [ln for ln in lines if NET_SOCKET.search(ln)]
    connects = [ln for ln in lines if NET_CONNECT.search(ln)]
    assert made == [] and connects == [], (made + connects)[:10]
    # where the guard works, the library's attempts are there and refused (EACCES), not merely absent
    tried = [ln for ln in lines if TRIED.search(ln)]
    assert all("EACCES" in ln for ln in tried), tried[:10]
