"""Per-frame timing records and their summary: the numbers `mimicam render --json` and `tools/bench`
report.

Every time is ``time.perf_counter_ns()`` (monotonic). The pipeline hands one ``FrameRecord`` per output
frame to ``MetricsRecorder.add`` (which writes into arrays preallocated in ``__init__``) and calls
``count_drop`` whenever a frame is thrown away ("capture" = a mailbox overwrite).

Stats schema ``mimicam.stats/2`` (returned by ``MetricsRecorder.summary``)::

    {
      "schema": "mimicam.stats/2",
      "mode": "live" | "offline",  # which kind of run every number below comes from
      "frames": int,            # output frames measured (after warm-up)
      "warmup": int,            # output frames excluded at the start
      "fps": float | None,      # measured frames / seconds between their sink times (None: < 2 frames);
                                # offline, that is the processing rate, not the video's frame rate
      "wall_s": float | None,   # the caller's wall-clock duration of the whole run, when given
      "dropped": {stage: int, ..., "total": int},       # drops after the warm-up
      LATENCY: {"p50","p90","p95","p99","max","std","mean"},
                # live: "capture_to_sink_ms", from the moment the camera frame arrived to the sink;
                # offline: "processing_ms", from starting to read the driving frame to the sink
      "stages": {name: {same fields}, ...},             # one per STAGES entry, 0 where it did not run
                                                        # (offline, "capture_wait" is reading the frame)
      "stage_sum_mean_ms": float | None,                # sum of the stage means: compare with
                                                        # LATENCY.mean (the unaccounted time)
      "kinds": {"generated": int, "held": int, "slate": int},
      # offline only:
      "media_fps": float | None,        # the driving video's frame rate (output frame i answers frame i)
      "speed_x_realtime": float | None  # seconds of video made per second of processing (> 1: faster)
    }

``latency_key(stats)`` names LATENCY (``mimicam.stats/1`` files, all live, have "capture_to_sink_ms").

Percentiles use linear interpolation (numpy's default), ``std`` is the population standard deviation;
every field is ``None`` when there are no samples. A run longer than ``capacity`` frames keeps the
newest ``capacity`` records.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

SCHEMA = "mimicam.stats/2"
MODES = ("live", "offline")
LATENCY_KEYS = {"live": "capture_to_sink_ms", "offline": "processing_ms"}
STAGES = ("capture_wait", "landmarks", "motion", "generator", "compose", "mark", "badge", "sink")
KINDS = ("generated", "held", "slate")
STAT_FIELDS = ("p50", "p90", "p95", "p99", "max", "std", "mean")

_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_N_STAGES = len(STAGES)


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """Timing of one output frame. ``stages_ns`` holds one duration per ``STAGES`` entry."""

    index: int
    source_index: int
    t_capture_ns: int
    t_sink_ns: int
    stages_ns: tuple[int, ...]
    kind: str

    def __post_init__(self) -> None:
        if len(self.stages_ns) != _N_STAGES:
            raise ValueError(f"FrameRecord.stages_ns: expected {_N_STAGES} durations ({', '.join(STAGES)}), "
                             f"got {len(self.stages_ns)}")
        if self.kind not in _KIND_CODE:
            raise ValueError(f"FrameRecord.kind: expected one of {KINDS}, got {self.kind!r}")


def latency_key(stats: dict) -> str:
    """The key of a stats dict's per-frame latency: "capture_to_sink_ms" (live) or "processing_ms"."""
    return LATENCY_KEYS[stats.get("mode", "live")]


def latency_stats(ms: np.ndarray) -> dict:
    """p50/p90/p95/p99/max/std/mean of a 1-D array of milliseconds (floats; ``None`` when empty)."""
    a = np.asarray(ms, dtype=np.float64).ravel()
    if a.size == 0:
        return {k: None for k in STAT_FIELDS}
    p50, p90, p95, p99 = np.percentile(a, (50, 90, 95, 99))
    return {"p50": float(p50), "p90": float(p90), "p95": float(p95), "p99": float(p99),
            "max": float(a.max()), "std": float(a.std()), "mean": float(a.mean())}


class MetricsRecorder:
    """Collects ``FrameRecord``s into preallocated arrays. ``add`` is called from one thread (the
    pipeline's); ``count_drop`` may be called from any thread. (No ``__len__``: an empty recorder is
    still truthy, so ``recorder or MetricsRecorder()`` keeps the caller's.)"""

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError(f"MetricsRecorder capacity: expected >= 1, got {capacity}")
        self.capacity = capacity
        self._index = np.zeros(capacity, np.int64)
        self._source = np.zeros(capacity, np.int64)
        self._t_capture = np.zeros(capacity, np.int64)
        self._t_sink = np.zeros(capacity, np.int64)
        self._stages = np.zeros((capacity, _N_STAGES), np.int64)
        self._kind = np.zeros(capacity, np.uint8)
        self._n = 0  # records ever added
        self._lock = threading.Lock()
        self._drops: dict[str, int] = {}
        self._drop_t = np.zeros(capacity, np.int64)  # time of each drop event (first `capacity` events)
        self._drop_stage = np.zeros(capacity, np.int16)
        self._drop_n = np.zeros(capacity, np.int32)
        self._drop_codes: dict[str, int] = {}
        self._n_drop_events = 0

    @property
    def count(self) -> int:
        """Records ever added (a run longer than ``capacity`` keeps only the newest)."""
        return self._n

    def add(self, rec: FrameRecord) -> None:
        i = self._n % self.capacity
        self._index[i] = rec.index
        self._source[i] = rec.source_index
        self._t_capture[i] = rec.t_capture_ns
        self._t_sink[i] = rec.t_sink_ns
        self._stages[i] = rec.stages_ns
        self._kind[i] = _KIND_CODE[rec.kind]
        self._n += 1

    def count_drop(self, stage: str, n: int = 1) -> None:
        t = time.perf_counter_ns()
        with self._lock:
            self._drops[stage] = self._drops.get(stage, 0) + n
            code = self._drop_codes.setdefault(stage, len(self._drop_codes))
            j = self._n_drop_events
            if j < self.capacity:
                self._drop_t[j], self._drop_stage[j], self._drop_n[j] = t, code, n
            self._n_drop_events = j + 1

    # ---- reading (not on the hot path) ------------------------------------------------------------

    def frames(self, warmup: int = 0) -> dict[str, np.ndarray]:
        """Copies of the measured records in order: index, source_index, t_capture_ns, t_sink_ns,
        stages_ns (N, len(STAGES)), kind (N,) codes into ``KINDS``."""
        n, cap = self._n, self.capacity
        first = max(warmup, n - cap, 0)
        order = np.arange(first, n) % cap
        return {"index": self._index[order], "source_index": self._source[order],
                "t_capture_ns": self._t_capture[order], "t_sink_ns": self._t_sink[order],
                "stages_ns": self._stages[order], "kind": self._kind[order]}

    def drop_events(self) -> list[tuple[int, str, int]]:
        """(t_ns, stage, n) of each recorded drop event, in order."""
        with self._lock:
            names = {c: s for s, c in self._drop_codes.items()}
            k = min(self._n_drop_events, self.capacity)
            return [(int(self._drop_t[j]), names[int(self._drop_stage[j])], int(self._drop_n[j])) for j in range(k)]

    def _drops_after(self, t0_ns: int | None) -> dict[str, int]:
        with self._lock:
            totals = dict(self._drops)
            complete = self._n_drop_events <= self.capacity
        if t0_ns is None or not complete:
            return totals
        counts = {s: 0 for s in totals}
        for t, stage, n in self.drop_events():
            if t >= t0_ns:
                counts[stage] += n
        return counts

    def summary(self, warmup: int = 0, wall_s: float | None = None, mode: str = "live",
                media_fps: float | None = None) -> dict:
        """The ``mimicam.stats/2`` dictionary (see the module docstring); frames before ``warmup``
        (and drops before the first measured frame was captured) are excluded. ``mode`` "offline":
        the records' capture times are the moments each driving frame started to be read."""
        if warmup < 0:
            raise ValueError(f"warmup: expected >= 0, got {warmup}")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        f = self.frames(warmup)
        n = int(f["index"].size)
        t_sink = f["t_sink_ns"]
        fps = (n - 1) / ((t_sink[-1] - t_sink[0]) / 1e9) if n >= 2 and t_sink[-1] > t_sink[0] else None
        t0 = int(f["t_capture_ns"].min()) if (warmup > 0 and n) else None
        drops = self._drops_after(t0)
        drops["total"] = sum(drops.values())
        c2s = (t_sink - f["t_capture_ns"]) / 1e6
        stages_ms = f["stages_ns"] / 1e6
        stages = {name: latency_stats(stages_ms[:, k]) for k, name in enumerate(STAGES)}
        kinds = np.bincount(f["kind"], minlength=len(KINDS))
        doc = {
            "schema": SCHEMA,
            "mode": mode,
            "frames": n,
            "warmup": min(warmup, self._n),
            "fps": fps,
            "wall_s": wall_s,
            "dropped": drops,
            LATENCY_KEYS[mode]: latency_stats(c2s),
            "stages": stages,
            "stage_sum_mean_ms": float(stages_ms.sum(axis=1).mean()) if n else None,
            "kinds": {k: int(kinds[i]) for i, k in enumerate(KINDS)},
        }
        if mode == "offline":
            span_s = (int(t_sink[-1]) - int(f["t_capture_ns"][0])) / 1e9 if n else 0.0
            doc["media_fps"] = media_fps
            doc["speed_x_realtime"] = n / media_fps / span_s if media_fps and span_s > 0 else None
        return doc
