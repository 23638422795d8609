"""Soak: many frames through the full pipeline (null sink), replaying a driving clip in a loop, while
sampling resident memory and thread counts. Growth is measured after a warm-up, so one-time set-up
(ONNX Runtime arenas, caches) is not counted. ``tools/soak.py`` is the command line."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .canvas import DEFAULT_SIZE
from .capture import CaptureSource, VideoFileSource

RSS_LIMIT_MB = 5.0


class LoopSource(CaptureSource):
    """A video file replayed from the start whenever it ends (offline: unpaced)."""

    def __init__(self, path: str | Path) -> None:
        self._video = VideoFileSource(path, paced=False)
        self.loops = 0

    def open(self) -> "LoopSource":
        self._video.open()
        self.fps = self._video.fps
        return self

    def close(self) -> None:
        self._video.close()

    def read(self) -> np.ndarray | None:
        image = self._video.read()
        if image is None:
            self.loops += 1
            self._video.close()
            self._video.open()
            image = self._video.read()
        return image


@dataclass
class Sample:
    frame: int
    t_s: float
    rss_mb: float
    py_threads: int
    os_threads: int


def run_soak(frames: int, warmup: int, portrait: Path, driving: Path, backend: str = "auto", config: str = "lite",
             every: int = 100, watermark: bool = True, size: tuple[int, int] | None = DEFAULT_SIZE) -> dict:
    """Run ``frames`` frames; returns samples and the verdict (RSS growth after warm-up, thread growth)."""
    import psutil

    from .pipeline import Pipeline, PipelineOptions

    proc, samples, t0 = psutil.Process(), [], time.perf_counter()

    def sample(out) -> None:
        n = out.index + 1
        if n == warmup or (n > warmup and (n - warmup) % every == 0) or n == frames:
            samples.append(Sample(n, time.perf_counter() - t0, proc.memory_info().rss / 2**20,
                                  threading.active_count(), proc.num_threads()))

    opts = PipelineOptions(portrait=portrait, driving=str(driving), output="null", backend=backend, config=config,
                           realtime=False, max_frames=frames, watermark=watermark, detector=False, size=size)
    source = LoopSource(driving)
    with Pipeline(opts, on_output=sample, source=source) as pipe:
        summary = pipe.run()
    base = next((s for s in samples if s.frame >= warmup), samples[0])
    last = samples[-1]
    late = [s.rss_mb for s in samples if s.frame >= warmup]
    result = {
        "frames": summary["frames"], "warmup": warmup, "loops": source.loops, "fps": summary["fps"],
        "errors": summary["errors"], "rss_after_warmup_mb": base.rss_mb, "rss_end_mb": last.rss_mb,
        "rss_max_mb": max(late), "rss_growth_mb": last.rss_mb - base.rss_mb,
        "threads_after_warmup": [base.py_threads, base.os_threads], "threads_end": [last.py_threads, last.os_threads],
        "threads_after_close": [threading.active_count(), proc.num_threads()],
        "samples": [s.__dict__ for s in samples],
    }
    result["ok"] = bool(result["rss_growth_mb"] < RSS_LIMIT_MB and last.py_threads <= base.py_threads
                        and last.os_threads <= base.os_threads)
    return result
