"""`mimicam bench` / `tools/bench`: per-stage and capture-to-sink latency of the live pipeline, with
percentiles, jitter, drops, CPU and RSS, glass-to-glass read back from pixels, and comparisons.

Bench JSON (``--json OUT``), schema ``mimicam.bench/1``::

    {"schema": "mimicam.bench/1", "created": ISO-8601 UTC,
     "machine": {cpu_model, cpu_cores_*, memory_gib, os, gpus: [...], versions: {python, numpy, ...}},
     "scenario": {driving, fps, portrait, backend, config, weights, frames, warmup, sink, glass,
                  size: [width, height] of the output},
     "results": mimicam.stats/2, mode "live" (see mimicam.realtime.metrics) + "skipped_source_frames" (driving
                frames no output answers, after warm-up), "errors", "notes", and where they apply
                "glass_to_glass" {frames_written, frames_decoded, stamps_read, matched_source_index,
                all_read, anchor, glass_to_glass_ms},
     "resources": {process_cpu_percent, process_rss_mib, other_cpu_cores, warning, ...,
                   thread_cpu_percent: {thread name: % of one core over the measured frames}},
     "series": per-frame data for plots (see mimicam.tools.benchplot.bench_series)}
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..realtime.errors import InputError
from ..realtime.metrics import MetricsRecorder, latency_stats
from .common import add_size_arg
from .benchreport import format_compare, format_table, load_results, scenario_title

SCHEMA = "mimicam.bench/1"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bench", help="measure latency per stage and glass to glass",
                              description="Replay a clip (or read a camera) through the live pipeline and report "
                                          "per-stage and capture-to-sink latency percentiles, fps and drops.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", type=Path, help="driving clip replayed as a camera (default: the bundled demo clip)")
    src.add_argument("--camera", type=int, metavar="N", help="read camera N instead of a clip")
    p.add_argument("--fps", type=float, help="replay rate of --video, e.g. 30 or 60 (default: the clip's own)")
    p.add_argument("--portrait", "--source", dest="portrait", type=Path,
                   help="portrait to animate (default: the bundled demo portrait)")
    p.add_argument("--backend", choices=("auto", "ort", "trt", "torch"), default="auto")
    p.add_argument("--config", choices=("lite", "vox256"), default="lite")
    p.add_argument("--weights", type=Path, help="generator weights (default: none, the closed-form prior)")
    p.add_argument("--frames", type=int, metavar="N", help="frames to measure after warm-up (default: to the end)")
    p.add_argument("--warmup", type=int, default=30, metavar="N", help="first output frames excluded (default 30)")
    add_size_arg(p)
    p.add_argument("--sink", default="null", help="null | file:PATH | vcam | window (default null)")
    p.add_argument("--serial", action="store_true",
                   help="one thread does every stage of a frame in turn (default: the next frame's landmarks "
                        "are found on their own thread while this one is generated)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON (schema mimicam.bench/1)")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="write a latency histogram and per-frame timeline")
    p.add_argument("--glass", action="store_true",
                   help="glass to glass: stamp a counter into the replayed frames and read it back from the file sink")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                   help="print two saved results side by side with ratios B/A, and exit")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.compare:
        print(format_compare(*(load_results(p) for p in args.compare), labels=[p.stem for p in args.compare]))
        return 0
    scenario = scenario_from_args(args)
    doc = run_bench(scenario)
    print(format_table(doc))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    if args.plot:
        from .benchplot import plot_bench
        plot_bench(doc["series"], doc["results"], args.plot, title=scenario_title(doc["scenario"]))
    if doc["resources"].get("warning"):
        print(f"mimicam bench: warning: {doc['resources']['warning']}", file=sys.stderr)
    return 0


# ---- scenario -----------------------------------------------------------------------------------------

def scenario_from_args(args: argparse.Namespace) -> dict:
    """The run's settings as a plain dict, validated; defaults resolved to the bundled demo assets."""
    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be at least 1, got {args.frames}")
    if args.warmup < 0:
        raise InputError(f"--warmup must be 0 or more, got {args.warmup}")
    if args.fps is not None and (args.camera is not None or args.fps <= 0):
        raise InputError("--fps sets the replay rate of a --video clip and must be positive")
    sink = args.sink
    if not (sink in ("null", "vcam", "window") or (sink.startswith("file:") and len(sink) > 5)):
        raise InputError(f"--sink must be null, vcam, window or file:PATH, got {sink!r}")
    if args.glass and not sink.startswith("file:"):
        sink = "file:" + str(Path(tempfile.mkdtemp(prefix="mimicam-bench-")) / "glass.mp4")
    driving: str | int | Path
    if args.camera is not None:
        driving = args.camera
    else:
        driving = args.video or _demo_asset("demo_driving_path")
        if not Path(driving).exists():
            raise InputError(f"driving clip not found: {driving}")
    portrait = args.portrait or _demo_asset("demo_portrait_path")
    if not Path(portrait).exists():
        raise InputError(f"portrait not found: {portrait}")
    return {"driving": driving if isinstance(driving, int) else str(driving), "fps": args.fps,
            "portrait": str(portrait), "backend": args.backend, "config": args.config,
            "weights": str(args.weights) if args.weights else None, "frames": args.frames,
            "warmup": args.warmup, "sink": sink, "glass": bool(args.glass), "size": list(args.size),
            "overlap": not args.serial}


def _demo_asset(name: str) -> Path:
    try:
        from ..realtime import assets
        return Path(getattr(assets, name)())
    except (ImportError, AttributeError) as exc:
        raise InputError("no bundled demo assets in this installation", "pass --video and --portrait") from exc


# ---- running ------------------------------------------------------------------------------------------

def run_bench(scenario: dict) -> dict:
    """Run the pipeline on ``scenario`` and return the bench document (schema ``mimicam.bench/1``)."""
    from ..realtime.pipeline import Pipeline, PipelineOptions
    from .sysinfo import ResourceSampler, machine_info

    s = scenario
    frames = s["frames"]
    options = PipelineOptions(
        portrait=Path(s["portrait"]), driving=s["driving"] if isinstance(s["driving"], int) else Path(s["driving"]),
        output=s["sink"], backend=s["backend"], config=s["config"],
        weights=Path(s["weights"]) if s["weights"] else None, fps=s["fps"], realtime=True,
        max_frames=None if frames is None else s["warmup"] + frames, stamp=s["glass"],
        size=tuple(s["size"]) if s.get("size") else None, overlap=bool(s.get("overlap", True)))
    machine = machine_info()
    recorder = MetricsRecorder()
    threads = ThreadCpu(s["warmup"])
    with ResourceSampler() as sampler, Pipeline(options, recorder, on_output=threads.on_output) as pipe:
        t0 = time.perf_counter()
        own = pipe.run()
        wall_s = time.perf_counter() - t0
        replay_fps = None if isinstance(s["driving"], int) else getattr(pipe, "fps", None)
    if recorder.count <= s["warmup"]:
        raise InputError(f"no frames measured: the run gave {recorder.count} frames, all inside the warm-up "
                         f"of {s['warmup']}", "use a longer clip, --frames or a smaller --warmup")
    resources = sampler.summary()
    resources["thread_cpu_percent"] = threads.percent()
    doc = make_document(s, recorder, machine, resources, wall_s, replay_fps)
    doc["results"]["errors"] = own.get("errors", {})
    doc["results"]["notes"] = own.get("notes", [])
    return doc


OTHER_THREADS = "other (ONNX Runtime, MediaPipe, encoder)"


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each named Python thread of this process (the main thread runs the
    pipeline), and by all its other (native) threads together."""
    import threading

    import psutil

    names = {t.native_id: ("pipeline (main)" if t is threading.main_thread() else t.name)
             for t in threading.enumerate() if t.native_id is not None}
    out: dict[str, float] = {}
    for th in psutil.Process().threads():
        name = names.get(th.id, OTHER_THREADS)
        out[name] = out.get(name, 0.0) + th.user_time + th.system_time
    return out


class ThreadCpu:
    """Per-thread CPU share over the measured frames (after ``warmup``), read from the output callback
    every ``every`` frames, so that threads which end with the run (capture) are still counted."""

    def __init__(self, warmup: int, every: int = 30) -> None:
        self.warmup, self.every = warmup, every
        self._first: tuple[float, dict[str, float]] | None = None
        self._last: tuple[float, dict[str, float]] | None = None

    def on_output(self, frame) -> None:
        if frame.index == self.warmup or (frame.index > self.warmup and frame.index % self.every == 0):
            snap = (time.perf_counter(), thread_cpu_seconds())
            if self._first is None:
                self._first = snap
            else:
                self._last = snap

    def percent(self) -> dict[str, float]:
        """{thread: % of one core} between the first and the last reading ({} when too few frames)."""
        if self._first is None or self._last is None or self._last[0] <= self._first[0]:
            return {}
        dt = self._last[0] - self._first[0]
        (_, a), (_, b) = self._first, self._last
        return {name: round(100.0 * (b[name] - a.get(name, 0.0)) / dt, 1) for name in sorted(b)}


def make_document(scenario: dict, recorder: MetricsRecorder, machine: dict, resources: dict,
                  wall_s: float | None = None, replay_fps: float | None = None) -> dict:
    """The bench document of a finished run (glass-to-glass read back here when the scenario asks;
    ``replay_fps``: the rate a clip was replayed at, which anchors glass-to-glass to the replay schedule)."""
    from .benchplot import bench_series

    warmup = scenario["warmup"]
    results = recorder.summary(warmup=warmup, wall_s=wall_s)
    series = bench_series(recorder, warmup)
    results["skipped_source_frames"] = sum(n for _, n in series["skipped"])
    if scenario["glass"]:
        results["glass_to_glass"], series["glass_to_glass_ms"] = glass_readback(
            Path(scenario["sink"][5:]), recorder, warmup, replay_fps)
    return {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine, "scenario": scenario, "results": results, "resources": resources,
            "series": series}


def glass_readback(video: Path, recorder: MetricsRecorder, warmup: int,
                   replay_fps: float | None = None) -> tuple[dict, list[float]]:
    """Decode the file sink's output and read the counter stamped into every frame.

    Output frame k of the file is the k-th record of ``recorder``; its counter must equal the recorded
    ``source_index``. Glass-to-glass latency of frame k = its sink time minus the moment driving frame
    ``counter`` appeared at the input. For a replayed clip that moment is its slot on the replay
    schedule, ``t0 + counter / replay_fps``, where a real camera would have exposed it whether or not
    we were ready: it includes decoding and any lateness of the capture thread. ``t0`` is estimated as
    the smallest ``t_capture - n / fps`` (no frame is captured before its slot). Without a replay rate
    (a camera), the moment is the capture timestamp. Returns (report, per-frame glass-to-glass ms)."""
    import cv2

    from ..realtime.stamp import read_counter

    f = recorder.frames(0)
    if recorder.count != f["index"].size:
        raise InputError("glass-to-glass readback needs every frame record", "run fewer frames")
    src, t_cap = f["source_index"], f["t_capture_ns"]
    if replay_fps and (src >= 0).any():
        real = src >= 0  # source_index -1: a slate sent while no camera frame had arrived
        t0 = int(np.min(t_cap[real] - np.round(src[real] * 1e9 / replay_fps)))
        appeared = {int(n): t0 + int(round(n * 1e9 / replay_fps)) for n in src[real]}
    else:
        appeared = dict(zip(src.tolist(), t_cap.tolist()))
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"cannot open the file sink's output {video}")
    counters: list[int | None] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        counters.append(read_counter(image))
    cap.release()
    n = min(len(counters), f["index"].size)
    read = [c for c in counters if c is not None]
    matched = sum(1 for k in range(n) if counters[k] == f["source_index"][k])
    g2g = [(int(f["t_sink_ns"][k]) - appeared[counters[k]]) / 1e6 for k in range(warmup, n)
           if counters[k] is not None and counters[k] in appeared]
    report = {"file": str(video), "frames_written": int(f["index"].size), "frames_decoded": len(counters),
              "stamps_read": len(read), "unreadable": len(counters) - len(read), "matched_source_index": matched,
              "all_read": len(read) == len(counters) == f["index"].size and matched == n,
              "anchor": f"replay schedule at {replay_fps:g} fps" if replay_fps else "capture timestamp",
              "glass_to_glass_ms": latency_stats(np.asarray(g2g))}
    return report, [round(v, 4) for v in g2g]
