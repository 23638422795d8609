"""The text side of `tools/bench`: the table of one run, loading saved results, and `--compare`."""
from __future__ import annotations

import json
from pathlib import Path

from ..realtime.errors import InputError
from ..realtime.metrics import STAGES, STAT_FIELDS, latency_key


def scenario_title(s: dict) -> str:
    src = f"camera {s['driving']}" if isinstance(s["driving"], int) else Path(s["driving"]).name
    rate = f" @ {s['fps']:g} fps" if s.get("fps") else ""
    size = f" {s['size'][0]}x{s['size'][1]}" if s.get("size") else ""
    return f"{src}{rate} -> {s['sink'].split(':', 1)[0]}{size}, backend {s['backend']}, config {s['config']}"


def _fmt(v: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:{width}.2f}"


def format_table(doc: dict) -> str:
    """The human-readable report of one bench document."""
    r, m, res = doc["results"], doc["machine"], doc["resources"]
    v = m["versions"]
    gpu = ", ".join(g["name"] for g in m["gpus"]) or "no GPU"
    drops = ", ".join(f"{k} {n}" for k, n in r["dropped"].items() if k != "total")
    lines = [f"mimicam bench: {scenario_title(doc['scenario'])}",
             f"machine: {m['cpu_model']}, {m['cpu_cores_logical']} cores ({m['cpu_cores_usable']} usable), {gpu}; "
             + ", ".join(f"{k} {v[k]}" for k in ("python", "numpy", "onnxruntime", "torch", "mediapipe", "opencv")
                         if v.get(k)),
             f"frames {r['frames']} measured, {r['warmup']} warm-up excluded; output {_fmt(r['fps'], 0)} fps; "
             f"dropped {r['dropped']['total']}{f' ({drops})' if drops else ''}"
             + (f", driving frames skipped after warm-up {r['skipped_source_frames']}" if "skipped_source_frames" in r
                else "") + "; kinds "
             + ", ".join(f"{k} {n}" for k, n in r["kinds"].items() if n),
             "",
             f"{'ms':<20}" + "".join(f"{k:>8}" for k in STAT_FIELDS)]
    rows = [(name, r["stages"][name]) for name in STAGES] + [("capture -> sink", r["capture_to_sink_ms"])]
    if "glass_to_glass" in r:
        rows.append(("glass -> glass", r["glass_to_glass"]["glass_to_glass_ms"]))
    for name, st in rows:
        lines.append(f"{name:<20}" + "".join(_fmt(st.get(k)) for k in STAT_FIELDS))
    c2s = r["capture_to_sink_ms"]["mean"]
    if c2s and r.get("stage_sum_mean_ms") is not None:
        lines.append(f"stages add up to {r['stage_sum_mean_ms']:.2f} ms = {100 * r['stage_sum_mean_ms'] / c2s:.1f}% "
                     "of the mean capture-to-sink time")
    if "glass_to_glass" in r:
        g = r["glass_to_glass"]
        lines.append(f"glass to glass: {g['stamps_read']}/{g['frames_decoded']} stamps read back from "
                     f"{g['frames_written']} frames written, {g['matched_source_index']} match the driving frame; "
                     f"input moment = {g['anchor']}")
    cpu, rss, other = res["process_cpu_percent"], res["process_rss_mib"], res["other_cpu_cores"]
    if cpu["mean"] is not None:
        lines.append(f"process CPU {cpu['mean']:.0f}% (max {cpu['max']:.0f}%, 100% = one core), "
                     f"RSS {rss['mean']:.0f} MiB (max {rss['max']:.0f}); other processes {other['mean']:.2f} cores")
    threads = res.get("thread_cpu_percent")
    if threads:
        lines.append("CPU by thread (100% = one core): " + ", ".join(f"{n} {v:.0f}%" for n, v in
                                                                      sorted(threads.items(), key=lambda x: -x[1])))
    return "\n".join(lines)


def load_results(path: Path) -> dict:
    """The stats of a bench JSON (its ``results``) or of a ``mimicam render --json`` file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read results from {path}: {exc}") from exc
    stats = doc.get("results", doc) if isinstance(doc, dict) else None
    if not (isinstance(stats, dict) and str(stats.get("schema", "")).startswith("mimicam.stats/")):
        raise InputError(f"{path} is not a mimicam bench or stats JSON (no mimicam.stats schema)")
    return stats


def compare_rows(a: dict, b: dict) -> list[tuple[str, float | None, float | None]]:
    rows = [("fps", a.get("fps"), b.get("fps")), ("frames", a.get("frames"), b.get("frames")),
            ("dropped", a["dropped"].get("total"), b["dropped"].get("total"))]
    ka, kb = latency_key(a), latency_key(b)
    name = "capture->sink" if ka == kb == "capture_to_sink_ms" else "processing" if ka == kb else "latency"
    rows += [(f"{name} {k}", a[ka].get(k), b[kb].get(k)) for k in STAT_FIELDS]
    if "glass_to_glass" in a and "glass_to_glass" in b:
        ga, gb = a["glass_to_glass"]["glass_to_glass_ms"], b["glass_to_glass"]["glass_to_glass_ms"]
        rows += [(f"glass->glass {k}", ga.get(k), gb.get(k)) for k in ("p50", "p95", "p99")]
    for name in STAGES:
        sa, sb = a.get("stages", {}).get(name, {}), b.get("stages", {}).get(name, {})
        rows += [(f"{name} {k}", sa.get(k), sb.get(k)) for k in ("p50", "p95")]
    return rows


def format_compare(a: dict, b: dict, labels: list[str] = ("A", "B")) -> str:
    """Two stats side by side with the ratio B/A (ms rows: below 1 means B is faster)."""
    la, lb = (str(l)[:15] for l in labels)
    lines = [f"{'':<24}{la:>16}{lb:>16}{'B/A':>8}"]
    for name, va, vb in compare_rows(a, b):
        ratio = f"{vb / va:8.2f}" if va and vb is not None else f"{'-':>8}"
        cells = "".join(f"{v:16d}" if isinstance(v, int) else _fmt(v, 16) for v in (va, vb))
        lines.append(f"{name:<24}{cells}{ratio}")
    return "\n".join(lines)
