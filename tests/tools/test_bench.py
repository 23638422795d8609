"""tools/bench without the pipeline: argument checks, the bench document and its JSON, the table,
--compare, the plot, glass-to-glass readback through a real mp4 file, and the checkout script."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mimicam.realtime.errors import InputError
from mimicam.realtime.metrics import STAGES, FrameRecord, MetricsRecorder
from mimicam.realtime.stamp import stamp_counter
from mimicam.tools.sysinfo import ResourceSampler, machine_info
from mimicam.tools import bench, benchreport
from mimicam.tools.cli import build_parser, main

DATA = Path("/work/shared/data")
CLIP = DATA / "driving/lp_d9_man_glasses_webcam.mp4"
PORTRAIT = DATA / "portraits/avatarify_obama.jpg"
REPO = Path(__file__).resolve().parents[2]
MS = 1_000_000


def _recorder(n, c2s_ms, gen_ms, drops=0, skip_every=0):
    rec = MetricsRecorder(capacity=1000)
    for i in range(n):
        t = 10_000 * MS + i * 33 * MS
        stages = [0] * len(STAGES)
        stages[STAGES.index("landmarks")] = 4 * MS
        stages[STAGES.index("generator")] = gen_ms * MS
        source = i + (i // skip_every if skip_every else 0)   # one driving frame skipped every skip_every
        rec.add(FrameRecord(i, source, t, t + c2s_ms * MS, tuple(stages), "generated"))
    if drops:
        rec.count_drop("capture", drops)
    return rec


def _scenario(**kw):
    s = {"driving": str(CLIP), "fps": 30.0, "portrait": str(PORTRAIT), "backend": "ort", "config": "lite",
         "weights": None, "frames": None, "warmup": 5, "sink": "null", "glass": False}
    s.update(kw)
    return s


def _doc(rec, **kw):
    with ResourceSampler(0.05) as sampler:
        pass
    return bench.make_document(_scenario(**kw), rec, machine_info(), sampler.summary(), wall_s=2.0)


def _args(*argv):
    return build_parser().parse_args(["bench", *argv])


def test_scenario_from_args():
    s = bench.scenario_from_args(_args("--video", str(CLIP), "--portrait", str(PORTRAIT), "--fps", "60",
                                       "--frames", "100", "--warmup", "10", "--backend", "ort"))
    assert s["fps"] == 60.0 and s["frames"] == 100 and s["warmup"] == 10 and s["sink"] == "null"
    glass = bench.scenario_from_args(_args("--video", str(CLIP), "--portrait", str(PORTRAIT), "--glass"))
    assert glass["glass"] and glass["sink"].startswith("file:") and glass["sink"].endswith(".mp4")


@pytest.mark.parametrize("argv, match", [
    (["--frames", "0"], "--frames"),
    (["--warmup", "-1"], "--warmup"),
    (["--sink", "screen"], "--sink"),
    (["--camera", "0", "--fps", "30"], "--fps"),
    (["--video", "/nonexistent.mp4"], "not found"),
])
def test_scenario_rejects_bad_arguments(argv, match):
    with pytest.raises(InputError, match=match):
        bench.scenario_from_args(_args("--portrait", str(PORTRAIT), *argv))


def test_document_json_and_table(tmp_path):
    doc = _doc(_recorder(60, c2s_ms=20, gen_ms=15, drops=3, skip_every=10))
    assert doc["schema"] == "mimicam.bench/1"
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    r = back["results"]
    assert r["schema"] == "mimicam.stats/2" and r["mode"] == "live" and r["frames"] == 55 and r["warmup"] == 5
    assert r["capture_to_sink_ms"]["p50"] == pytest.approx(20.0)
    assert set(back["machine"]) >= {"cpu_model", "cpu_cores_logical", "gpus", "versions"}
    assert back["machine"]["versions"]["numpy"] == np.__version__
    assert len(back["series"]["capture_to_sink_ms"]) == 55
    table = benchreport.format_table(back)
    assert "capture -> sink" in table and all(s in table for s in STAGES)
    assert "stages add up to 19.00 ms = 95.0%" in table
    assert r["skipped_source_frames"] == 5  # gaps before frames 10, 20, 30, 40, 50
    assert "dropped 3 (capture 3), driving frames skipped after warm-up 5" in table


def test_compare_prints_ratios(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_doc(_recorder(40, c2s_ms=20, gen_ms=15))))
    b.write_text(json.dumps(_recorder(40, c2s_ms=40, gen_ms=30).summary(warmup=5)))  # a render --json file
    assert main(["bench", "--compare", str(a), str(b)]) == 0
    rows = {line[:24].strip(): line[24:].split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["capture->sink p50"] == ["20.00", "40.00", "2.00"]
    assert rows["generator p95"] == ["15.00", "30.00", "2.00"]
    assert rows["motion p50"] == ["0.00", "0.00", "-"]
    assert rows["fps"][2] == "1.00"


def test_compare_rejects_other_json(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    assert main(["bench", "--compare", str(bad), str(bad)]) == 2
    assert "not a mimicam bench or stats JSON" in capsys.readouterr().err


def test_plot_writes_png(tmp_path):
    doc = _doc(_recorder(80, c2s_ms=25, gen_ms=18, drops=2))
    from mimicam.tools.benchplot import plot_bench
    out = plot_bench(doc["series"], doc["results"], tmp_path / "plots/bench.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def _write_stamped(path, counters):
    cap = cv2.VideoCapture(str(CLIP))
    ok, first = cap.read()
    assert ok
    h, w = first.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    im = first
    for c in counters:
        im = im.copy()
        stamp_counter(im, c)
        out.write(im)
        ok, nxt = cap.read()
        im = nxt if ok else im
    out.release()
    cap.release()


def test_glass_readback_reads_every_counter(tmp_path):
    video = tmp_path / "out.mp4"
    rec = _recorder(45, c2s_ms=30, gen_ms=20)
    _write_stamped(video, list(range(45)))
    doc = _doc(rec, glass=True, sink=f"file:{video}")
    g = doc["results"]["glass_to_glass"]
    assert g["all_read"] and g["stamps_read"] == g["frames_decoded"] == g["frames_written"] == 45
    assert g["glass_to_glass_ms"]["p50"] == pytest.approx(30.0)
    assert len(doc["series"]["glass_to_glass_ms"]) == 40
    # anchored to a 30 fps replay schedule: frames captured 33 ms apart fall behind their 33.3 ms slots,
    # the last one (i=44) is on time, so glass-to-glass = 30 ms + 0.333 ms * (44 - i)
    g30, ms = bench.glass_readback(video, rec, warmup=5, replay_fps=30.0)
    assert g30["anchor"] == "replay schedule at 30 fps"
    assert min(ms) == pytest.approx(30.0, abs=1e-3) and max(ms) == pytest.approx(30 + 39 / 3, abs=1e-3)


def test_glass_readback_flags_wrong_frames(tmp_path):
    video = tmp_path / "out.mp4"
    _write_stamped(video, [0, 1, 2, 2, 4, 5])   # frame 3 shows driving frame 2: a stale frame
    g, _ = bench.glass_readback(video, _recorder(6, c2s_ms=30, gen_ms=20), warmup=0)
    assert not g["all_read"] and g["stamps_read"] == 6 and g["matched_source_index"] == 5


def test_checkout_script_runs_without_install():
    code = ("import sys, runpy\n"
            "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
            "sys.path_hooks = [h for h in sys.path_hooks if 'editable' not in repr(h).lower()]\n"
            "sys.path_importer_cache.clear()\n"
            "sys.argv = ['bench', '--help']\n"
            f"runpy.run_path({str(REPO / 'tools/bench')!r}, run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/tmp", timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--glass" in out.stdout and "--compare" in out.stdout


def test_thread_cpu_share_names_the_busy_thread():
    """The bench reports each thread's CPU share over the measured frames: a thread that burns CPU shows
    up by name, one that sleeps does not, and a thread that ends before the run does is still counted."""
    import threading
    import time
    from types import SimpleNamespace

    share = bench.ThreadCpu(warmup=2, every=1)
    stop = threading.Event()

    def burn():
        while not stop.is_set():
            sum(range(1000))

    sleeper = threading.Thread(target=stop.wait, name="mimicam-test-idle", daemon=True)
    worker = threading.Thread(target=burn, name="mimicam-test-busy", daemon=True)
    sleeper.start()
    worker.start()
    share.on_output(SimpleNamespace(index=1))  # inside the warm-up: not a reading
    share.on_output(SimpleNamespace(index=2))
    time.sleep(0.6)
    share.on_output(SimpleNamespace(index=3))
    stop.set()
    worker.join()
    sleeper.join()
    pct = share.percent()
    assert pct["mimicam-test-busy"] > 20 and pct["mimicam-test-idle"] < 5
    assert "pipeline (main)" in pct
    assert bench.ThreadCpu(warmup=0).percent() == {}  # no readings: nothing claimed
