"""No exfiltration, no persistence: the full pipeline (real landmarks, real ONNX Runtime generator,
watermark, file output) runs with an audit hook that records every socket operation, every
subprocess, and every file opened for writing, renamed or removed; a sampler also watches the
process's file descriptors (what native code opens). Only the output file (and its temporary file
beside it), the config dir (the watermark key) and the model-graph cache may be written; no socket
may exist. The audited run is a fresh process: a long pytest process holds threads that earlier tests left, whose
native descriptors are not the pipeline's. The 1,000-frame run is marked slow; the default run does 60
frames."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mimicam.engines.config import get_config
from mimicam.engines.export import export_onnx
from mimicam.engines.files import user_cache_dir
from mimicam.realtime.pipeline import Pipeline, PipelineOptions

from reliability_fakes import ListSource, small_portrait_path  # noqa: F401
from shared_data import DRIVING, need

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
NET_EVENTS = ("socket.", "http.client.", "urllib.", "ftplib.", "smtplib.", "imaplib.", "poplib.", "telnetlib.",
              "webbrowser.")
PROC_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "pty.spawn")
FS_EVENTS = ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.truncate",
             "shutil.copyfile", "shutil.move", "shutil.rmtree", "os.chmod")


class Audit:
    active = False
    events: list[tuple[str, str]] = []


def _hook(event: str, args: tuple) -> None:
    if not Audit.active:
        return
    if event.startswith(NET_EVENTS) or event.startswith(PROC_EVENTS):
        Audit.events.append((event, repr(args)[:200]))
    elif event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                  (isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing and not isinstance(path, int):
            Audit.events.append(("write", os.fsdecode(path)))
    elif event.startswith(FS_EVENTS):
        Audit.events.append((event, " ".join(os.fsdecode(a) for a in args if isinstance(a, (str, bytes, Path)))))


sys.addaudithook(_hook)  # hooks cannot be removed; it does nothing unless Audit.active


def _socket_kind(inode: str) -> str:
    """unix (a local pipe-like pair) or tcp/udp (network), from /proc/net."""
    for kind in ("tcp", "tcp6", "udp", "udp6", "unix", "netlink", "raw"):
        try:
            rows = Path(f"/proc/net/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        if any(inode in row.split() for row in rows):
            return kind
    return "?"


def _open_fds() -> set[tuple[str, str]]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            pass
    return out


def _fd_sampler(stop: threading.Event, seen: set, inherited: set[tuple[str, str]]) -> None:
    """What the process (native code included) opens while the pipeline runs: sockets, and files open for
    writing. Descriptors it already held (pytest's own output, redirected to a log file, say) are not
    the pipeline's doing and are left out."""
    while not stop.wait(0.02):
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
                if (fd, target) in inherited:
                    continue
                flags = int(open(f"/proc/self/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
            except (OSError, IndexError, ValueError):
                continue
            if target.startswith("socket:"):
                seen.add(("socket", f"{target} {_socket_kind(target[8:-1])}"))
            elif target.startswith("/") and flags & os.O_ACCMODE != os.O_RDONLY and not target.startswith(
                    ("/dev/", "/proc/")) and "(deleted)" not in target:
                seen.add(("fd-write", target))



def audited_run(n: int, portrait: Path, clip: Path, out_dir: Path) -> dict:
    """Run the pipeline under the audit (in a fresh process: threads that earlier tests left behind in a
    long pytest process must not be counted as the pipeline's) and report what it saw."""
    from reliability_fakes import read_clip

    out = out_dir / "result.mp4"
    opts = PipelineOptions(portrait=portrait, driving="clip", output=f"file:{out}", backend="ort",
                           realtime=False, max_frames=n, watermark=True)
    frames = read_clip(clip, 40)
    export_onnx(get_config("lite"))  # the one-time export of the model graphs, outside the audit
    # Importing mediapipe.tasks imports sounddevice (audio tasks), whose ctypes.util.find_library runs
    # `ldconfig -p` and gcc (temp files in /tmp) once, to look for PortAudio: a library import side
    # effect (no network), done here before the audit starts; the README notes it.
    import mediapipe.tasks.python.vision  # noqa: F401
    before = set(os.listdir("/proc/self/fd"))
    stop, fds = threading.Event(), set()
    sampler = threading.Thread(target=_fd_sampler, args=(stop, fds, _open_fds()), daemon=True)
    Audit.events, Audit.active = [], True
    sampler.start()
    try:
        with Pipeline(opts, source=ListSource(frames, loops=n // 40 + 1)) as pipe:
            summary = pipe.run()
    finally:
        Audit.active = False
        stop.set()
        sampler.join()
    leaked = set(os.listdir("/proc/self/fd")) - before
    return {"frames": summary["frames"], "out_size": out.stat().st_size if out.exists() else 0,
            "events": Audit.events, "fds": sorted(fds), "out_names": sorted(p.name for p in out_dir.iterdir()),
            "leaked_sockets": [os.readlink(f"/proc/self/fd/{fd}") for fd in leaked
                               if os.path.exists(f"/proc/self/fd/{fd}")
                               and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")]}


@pytest.mark.parametrize("n", [pytest.param(60, id="60-frames"),
                               pytest.param(1000, id="1000-frames", marks=pytest.mark.slow)])
def test_no_socket_and_no_write_outside_the_output_and_config(tmp_path, small_portrait_path, n):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    config_dir = Path(os.environ["MIMICAM_CONFIG_DIR"])
    here = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(here), str(here.parent)]))
    clip = need(DRIVING / "lp_d9_man_glasses_webcam.mp4")
    done = subprocess.run([sys.executable, __file__, str(n), str(small_portrait_path), str(clip), str(out_dir)],
                          capture_output=True, text=True, timeout=1200, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    events, fds = [tuple(e) for e in r["events"]], [tuple(f) for f in r["fds"]]
    assert r["frames"] == n and r["out_size"] > 0
    # the output the user asked for, the config dir (watermark key), and the model-graph cache (ONNX
    # graphs derived from the code; re-exported only when the model code changes): no user data
    allowed = (str(out_dir), str(config_dir), str(user_cache_dir() / "onnx"), os.devnull)  # /dev/null: MediaPipe's log
    net = [e for e in events if e[0].startswith(NET_EVENTS) or e[0].startswith(PROC_EVENTS)]
    assert net == [] and not [f for f in fds if f[0] == "socket"], (net, fds)
    writes = [e for e in events if e[0] not in ("socket",) and not e[1].startswith(allowed)]
    writes += [f for f in fds if f[0] == "fd-write" and not f[1].startswith(allowed)]
    assert writes == [], f"writes outside {allowed}: {writes[:10]}"
    assert r["out_names"] == ["result.mp4"]  # the temporary file is gone
    assert any(e[0] == "write" for e in events)  # the audit really saw the output being written
    assert r["leaked_sockets"] == []


if __name__ == "__main__":  # the audited run, in its own process (see audited_run)
    n_, portrait_, clip_, out_dir_ = sys.argv[1:5]
    print(json.dumps(audited_run(int(n_), Path(portrait_), Path(clip_), Path(out_dir_))))
