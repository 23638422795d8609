"""Percentiles on known inputs, the stats schema, warm-up exclusion, drops and the ring buffer."""
import json

import numpy as np
import pytest

from mimicam.realtime.metrics import (KINDS, SCHEMA, STAGES, STAT_FIELDS, FrameRecord, MetricsRecorder, latency_key,
                                      latency_stats)

MS = 1_000_000


def test_latency_stats_on_known_inputs():
    s = latency_stats(np.arange(1, 101, dtype=np.float64))  # 1..100
    assert s["p50"] == pytest.approx(50.5)
    assert s["p90"] == pytest.approx(90.1)
    assert s["p95"] == pytest.approx(95.05)
    assert s["p99"] == pytest.approx(99.01)
    assert s["max"] == 100.0
    assert s["mean"] == pytest.approx(50.5)
    assert s["std"] == pytest.approx(np.sqrt((100**2 - 1) / 12))  # population std of 1..n
    assert latency_stats(np.array([7.0])) == {k: (0.0 if k == "std" else 7.0) for k in STAT_FIELDS}


def test_latency_stats_empty_is_all_none():
    assert latency_stats(np.array([])) == {k: None for k in STAT_FIELDS}


def _record(i, c2s_ms=10, kind="generated", stage_ms=(0, 2, 1, 5, 1, 0, 0, 1)):
    t = 1_000 * MS + i * 33 * MS
    return FrameRecord(index=i, source_index=2 * i, t_capture_ns=t, t_sink_ns=t + c2s_ms * MS,
                       stages_ns=tuple(s * MS for s in stage_ms), kind=kind)


def _validate_stats(doc):
    """The mimicam.stats/2 schema, checked field by field."""
    assert doc["schema"] == SCHEMA and doc["mode"] in ("live", "offline")
    assert isinstance(doc["frames"], int) and isinstance(doc["warmup"], int)
    assert doc["fps"] is None or isinstance(doc["fps"], float)
    assert doc["dropped"]["total"] == sum(v for k, v in doc["dropped"].items() if k != "total")
    key = "capture_to_sink_ms" if doc["mode"] == "live" else "processing_ms"
    assert set(doc[key]) == set(STAT_FIELDS) and latency_key(doc) == key
    other = "processing_ms" if doc["mode"] == "live" else "capture_to_sink_ms"
    assert other not in doc and ("speed_x_realtime" in doc) == (doc["mode"] == "offline")
    assert tuple(doc["stages"]) == STAGES
    assert all(set(v) == set(STAT_FIELDS) for v in doc["stages"].values())
    assert set(doc["kinds"]) == set(KINDS)
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_summary_schema_warmup_and_kinds():
    rec = MetricsRecorder(capacity=1000)
    for i in range(5):
        rec.add(_record(i, c2s_ms=500))          # slow warm-up frames
    for i in range(5, 105):
        rec.add(_record(i, c2s_ms=10, kind="held" if i % 10 == 0 else "generated"))
    doc = rec.summary(warmup=5, wall_s=4.0)
    _validate_stats(doc)
    assert doc["frames"] == 100 and doc["warmup"] == 5 and doc["wall_s"] == 4.0
    assert doc["capture_to_sink_ms"]["max"] == pytest.approx(10.0)
    assert doc["fps"] == pytest.approx(1000 / 33)
    assert doc["kinds"] == {"generated": 90, "held": 10, "slate": 0}
    assert doc["stages"]["generator"]["p50"] == pytest.approx(5.0)
    assert doc["stage_sum_mean_ms"] == pytest.approx(10.0)
    assert rec.summary()["capture_to_sink_ms"]["max"] == pytest.approx(500.0)


def test_offline_summary_is_processing_time_and_speed():
    """Offline, a record's start is when the frame began to be read: the numbers are processing time per
    frame (never negative) and speed as a multiple of real time, labelled as such."""
    rec = MetricsRecorder(capacity=100)
    for i in range(60):  # 60 frames of a 30 fps video, each processed in 10 ms, back to back: 3.3x real time
        t = 1_000 * MS + i * 10 * MS
        rec.add(FrameRecord(i, i, t, t + 10 * MS, tuple([10 * MS] + [0] * (len(STAGES) - 1)), "generated"))
    doc = rec.summary(mode="offline", media_fps=30.0)
    _validate_stats(doc)
    assert doc["processing_ms"]["p50"] == pytest.approx(10.0) and doc["processing_ms"]["max"] == pytest.approx(10.0)
    assert doc["media_fps"] == 30.0 and doc["speed_x_realtime"] == pytest.approx(60 / 30 / 0.6)
    assert rec.summary(mode="offline")["speed_x_realtime"] is None  # without the video's rate: unknown
    with pytest.raises(ValueError, match="mode"):
        rec.summary(mode="replay")


def test_drops_by_stage_and_empty_summary():
    rec = MetricsRecorder(capacity=10)
    rec.count_drop("capture", 3)
    rec.count_drop("sink")
    doc = rec.summary()
    _validate_stats(doc)
    assert doc["frames"] == 0 and doc["fps"] is None
    assert doc["dropped"] == {"capture": 3, "sink": 1, "total": 4}
    assert [(s, n) for _, s, n in rec.drop_events()] == [("capture", 3), ("sink", 1)]


def test_ring_buffer_keeps_newest_records():
    rec = MetricsRecorder(capacity=8)
    for i in range(20):
        rec.add(_record(i))
    f = rec.frames()
    assert rec.count == 20 and bool(MetricsRecorder(capacity=1)) and f["index"].tolist() == list(range(12, 20))
    assert rec.summary(warmup=15)["frames"] == 5


def test_record_validation():
    with pytest.raises(ValueError, match="stages_ns"):
        FrameRecord(0, 0, 0, 0, (1, 2), "generated")
    with pytest.raises(ValueError, match="kind"):
        FrameRecord(0, 0, 0, 0, (0,) * len(STAGES), "real")
