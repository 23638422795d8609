"""What a benchmark ran on, and what else the machine was doing meanwhile.

``machine_info()``: CPU model and cores, memory, OS, GPUs (from ``nvidia-smi`` where it exists) and the
versions of the libraries that set the speed (read from package metadata: nothing heavy is imported).
``ResourceSampler``: a light thread that samples this process's CPU and RSS and the CPU used by every
other process, so a run on a busy machine says so.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
import time
from importlib import metadata

import numpy as np
import psutil

# (name reported, distributions that provide it, first found wins)
_PACKAGES = (
    ("mimicam", ("mimicam",)),
    ("numpy", ("numpy",)),
    ("torch", ("torch",)),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
    ("mediapipe", ("mediapipe",)),
    ("opencv", ("opencv-contrib-python", "opencv-python", "opencv-python-headless",
                "opencv-contrib-python-headless")),
    ("tensorrt", ("tensorrt", "tensorrt-cu12")),
    ("pyvirtualcam", ("pyvirtualcam",)),
)
OTHER_LOAD_WARN_CORES = 0.25   # other processes using more than this many cores on average -> warning


def _version(dists: tuple[str, ...]) -> str | None:
    for d in dists:
        try:
            return metadata.version(d)
        except metadata.PackageNotFoundError:
            continue
    return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gpus() -> list[dict]:
    """One dict per NVIDIA GPU (name, driver, memory_mib); empty without ``nvidia-smi`` or a GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            mem = int(parts[2]) if parts[2].isdigit() else None
            found.append({"name": parts[0], "driver": parts[1], "memory_mib": mem})
    return found


def machine_info() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "cpu_model": cpu_model(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_cores_usable": affinity,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "gpus": gpus(),
        "versions": {"python": platform.python_version(), **{n: _version(d) for n, d in _PACKAGES}},
    }


class ResourceSampler:
    """Samples every ``interval_s`` in a daemon thread: this process's CPU (100 = one core) and RSS,
    and the cores used by all other processes. ``open()`` starts it, ``close()`` stops it;
    ``summary()`` gives the means and maxima and a warning when other processes loaded the CPU."""

    def __init__(self, interval_s: float = 0.25, max_samples: int = 100_000) -> None:
        if interval_s <= 0:
            raise ValueError(f"ResourceSampler interval_s: expected > 0, got {interval_s}")
        self.interval_s = interval_s
        self._proc = psutil.Process()
        self._data = np.zeros((max_samples, 3), np.float64)  # cpu %, rss MiB, other cores
        self._n = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._top: list[tuple[str, float]] = []
        self._procs: dict[int, psutil.Process] = {}

    def open(self) -> "ResourceSampler":
        if self._thread is None:
            self._stop.clear()
            self._prime_others()
            self._thread = threading.Thread(target=self._loop, name="mimicam-sampler", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._top = self._read_others()

    def __enter__(self) -> "ResourceSampler":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _busy_s(self) -> tuple[float, float]:
        sys_t = psutil.cpu_times()
        busy = sum(sys_t) - sys_t.idle - getattr(sys_t, "iowait", 0.0)
        me = self._proc.cpu_times()
        return busy, me.user + me.system

    def _loop(self) -> None:
        t_prev = time.monotonic()
        busy_prev, mine_prev = self._busy_s()
        while not self._stop.wait(self.interval_s):
            t = time.monotonic()
            busy, mine = self._busy_s()
            dt = t - t_prev
            if dt > 0 and self._n < len(self._data):
                rss = self._proc.memory_info().rss / 2**20
                self._data[self._n] = (100.0 * (mine - mine_prev) / dt, rss,
                                       max(0.0, (busy - busy_prev) - (mine - mine_prev)) / dt)
                self._n += 1
            t_prev, busy_prev, mine_prev = t, busy, mine

    def _prime_others(self) -> None:
        me = os.getpid()
        self._procs = {}
        for p in psutil.process_iter(["pid"]):
            if p.info["pid"] == me:
                continue
            try:
                p.cpu_percent(None)
                self._procs[p.info["pid"]] = p
            except (psutil.Error, OSError):
                continue

    def _read_others(self) -> list[tuple[str, float]]:
        """The three other processes that used the most CPU since ``open()``: (name, % of one core)."""
        used = []
        for p in self._procs.values():
            try:
                used.append((p.name(), p.cpu_percent(None)))
            except (psutil.Error, OSError):
                continue
        used.sort(key=lambda x: -x[1])
        return [(n, round(c, 1)) for n, c in used[:3] if c > 0]

    def summary(self) -> dict:
        d = self._data[: self._n]

        def mm(col: int) -> dict:
            return {"mean": float(d[:, col].mean()), "max": float(d[:, col].max())} if len(d) else \
                {"mean": None, "max": None}

        other = mm(2)
        warning = None
        if other["mean"] is not None and other["mean"] > OTHER_LOAD_WARN_CORES:
            top = ", ".join(f"{n} {c:.0f}%" for n, c in self._top)
            warning = (f"other processes used {other['mean']:.2f} of {psutil.cpu_count()} CPU cores on average "
                       f"during the run{f' ({top})' if top else ''}: latencies are inflated")
        return {"samples": int(self._n), "interval_s": self.interval_s, "process_cpu_percent": mm(0),
                "process_rss_mib": mm(1), "other_cpu_cores": other,
                "top_other_processes": [{"name": n, "cpu_percent": c} for n, c in self._top],
                "warning": warning}
