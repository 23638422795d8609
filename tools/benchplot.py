"""`tools/bench --plot OUT.png`: a latency histogram and a per-frame timeline with drops.

Works from a ``series`` dict (what ``bench_series`` makes from a recorder, and what the bench JSON
stores), so a plot can be redrawn from a saved JSON. Uses matplotlib's Agg canvas directly: no pyplot,
no global state.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..realtime.metrics import STAGES, MetricsRecorder


def bench_series(recorder: MetricsRecorder, warmup: int) -> dict:
    """Per-frame data of the measured frames as JSON-ready lists, times in seconds from the first
    measured capture: t_sink_s, capture_to_sink_ms, source_index, stages_ms {name: [...]}, kind,
    drops [[t_s, stage, n], ...] recorded after that moment, and skipped [[t_s, n], ...]: driving frames
    that no output frame answers (gaps in source_index), at the sink time of the frame after the gap."""
    f = recorder.frames(warmup)
    if f["index"].size == 0:
        return {"t_sink_s": [], "capture_to_sink_ms": [], "source_index": [], "stages_ms": {}, "kind": [],
                "drops": [], "skipped": []}
    t0 = int(f["t_capture_ns"].min())
    gaps = np.diff(f["source_index"]) - 1
    at = np.nonzero(gaps > 0)[0]
    return {
        "t_sink_s": np.round((f["t_sink_ns"] - t0) / 1e9, 6).tolist(),
        "capture_to_sink_ms": np.round((f["t_sink_ns"] - f["t_capture_ns"]) / 1e6, 4).tolist(),
        "source_index": f["source_index"].tolist(),
        "stages_ms": {s: np.round(f["stages_ns"][:, k] / 1e6, 4).tolist() for k, s in enumerate(STAGES)},
        "kind": f["kind"].tolist(),
        "drops": [[round((t - t0) / 1e9, 6), s, n] for t, s, n in recorder.drop_events() if t >= t0],
        "skipped": [[round((int(f["t_sink_ns"][k + 1]) - t0) / 1e9, 6), int(gaps[k])] for k in at],
    }


def plot_bench(series: dict, results: dict, path: Path, title: str = "") -> Path:
    """Write the two-panel PNG to ``path``; returns it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    c2s = np.asarray(series["capture_to_sink_ms"], np.float64)
    t = np.asarray(series["t_sink_s"], np.float64)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_h, ax_t = fig.subplots(2, 1, height_ratios=(1, 1.3))
    fig.suptitle(title or "mimicam bench")

    stats = results.get("capture_to_sink_ms", {})
    if c2s.size:
        ax_h.hist(c2s, bins=min(80, max(10, c2s.size // 10)), color="#4477aa", alpha=0.85, label="capture to sink")
        g2g = series.get("glass_to_glass_ms")
        if g2g:
            ax_h.hist(g2g, bins=min(80, max(10, len(g2g) // 10)), color="#ee6677", alpha=0.5, label="glass to glass")
    for key, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        if stats.get(key) is not None:
            ax_h.axvline(stats[key], color="k", ls=style, lw=1, label=f"{key} {stats[key]:.1f} ms")
    ax_h.set_xlabel("latency (ms)")
    ax_h.set_ylabel("frames")
    if ax_h.get_legend_handles_labels()[0]:
        ax_h.legend(loc="upper right", fontsize=8)

    stages = series.get("stages_ms", {})
    if t.size and stages:
        names = [s for s in STAGES if s in stages and any(stages[s])]
        ax_t.stackplot(t, *[np.asarray(stages[s]) for s in names], labels=names, alpha=0.55)
    if t.size:
        ax_t.plot(t, c2s, color="k", lw=0.8, label="capture to sink")
    # drop events as recorded, except capture drops, which are shown as the driving frames skipped
    drops = [d for d in series.get("drops", []) if d[1] != "capture"]
    drops += [[t_s, "capture (driving frames skipped)", n] for t_s, n in series.get("skipped", [])]
    if drops:
        top = float(c2s.max()) if c2s.size else 1.0
        for k, stage in enumerate(sorted({d[1] for d in drops})):
            times = [d[0] for d in drops if d[1] == stage]
            n = sum(d[2] for d in drops if d[1] == stage)
            ax_t.plot(times, np.full(len(times), top * (1.04 + 0.04 * k)), "|", ms=9, mew=1.2,
                      color=("#cc3311", "#ee7733", "#aa3377")[k % 3], label=f"dropped at {stage} ({n})")
    ax_t.set_xlabel("time since first measured capture (s)")
    ax_t.set_ylabel("ms per output frame")
    ax_t.set_ylim(bottom=0)
    if ax_t.get_legend_handles_labels()[0]:
        ax_t.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7, ncol=6, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
