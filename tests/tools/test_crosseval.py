"""Cross-identity evaluation: the measures on known inputs, then one short real pair through the CLI."""
import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mimicam.tools import crosseval as cx
from shared_data import DRIVING, need


def _rot(yaw, pitch, roll):
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rz @ ry @ rx * 3.0  # MediaPipe's matrices carry a scale: it must not matter
    return m


@pytest.mark.parametrize("ypr", [(20, 0, 0), (0, -15, 0), (0, 0, 10), (12, 8, -5)])
def test_euler_angles_of_a_known_rotation(ypr):
    np.testing.assert_allclose(cx.euler_deg(_rot(*ypr)), ypr, atol=1e-6)


def test_correlation_rules():
    t = np.linspace(0, 1, 30)
    assert cx.corr(t, 2 * t + 1) == pytest.approx(1.0)
    assert cx.corr(np.zeros(30), t) is None  # the driver does not move: nothing to follow
    assert cx.corr(t, np.zeros(30)) == 0.0  # the driver moves, the output does not


def test_sharpness_and_background_masks():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    soft = cv2.GaussianBlur(sharp, (7, 7), 2.0)
    box = (20.0, 20.0, 80.0, 80.0)
    assert cx.laplacian_var(soft, box) < 0.2 * cx.laplacian_var(sharp, box)
    away = cx.away_from_head((100, 100), (40.0, 40.0, 60.0, 60.0), margin=0.5)
    assert not away[50, 50] and not away[40, 65] and away[5, 5] and away[50, 95]


def test_one_real_pair_through_the_cli(tmp_path, portrait_path):
    """The driver animates the demo portrait for 45 frames: the head follows the driver's yaw, and the
    pair's numbers, summary and contact sheet are written."""
    clip = need(DRIVING / "lp_d12_man_talking_headmove.mp4")  # head turns (yaw +-16 degrees)
    out = tmp_path / "cross"
    r = subprocess.run([sys.executable, "-m", "mimicam.tools.evaluate", "--clips", str(clip), "--portraits",
                        str(portrait_path), "--out", str(out), "--frames", "45"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((out / "cross.json").read_text())
    assert doc["schema"] == "mimicam.crosseval/1" and doc["calibrate"] == "neutral"
    (pair,) = doc["pairs"]
    assert pair["frames"] == 45 and pair["no_face"] == 0
    assert pair["yaw"] > 0.8  # the portrait turns with the driver
    assert pair["bg_drift"] is not None and pair["bg_drift"] < 5.0
    assert 0.0 < pair["sharpness"] < 2.0
    assert doc["summary"]["pose"]["pairs"] == 1
    # how far the driver moves is recorded (it turns its head much more than it nods), and printed first
    yaw_sd, pitch_sd, _ = pair["driver_sd"]
    assert yaw_sd > 2 * pitch_sd and 0.0 < pair["driver_jaw_range"] <= 1.0
    assert 0.2 < pair["pose_gain"][0] < 2.0
    assert "the driver moves: yaw/pitch/roll sd" in r.stdout + r.stderr
    sheet = cv2.imread(str(out / f"{portrait_path.stem}__{clip.stem}.png"))
    assert sheet is not None and sheet.shape[1] == 2 * 192


def test_compare_gives_the_paired_change_not_only_the_medians():
    """Two runs of the same pairs: the mean paired change and its interval see a small shift of every pair that
    the medians (which jump across gaps between pairs) may hide or exaggerate."""
    from mimicam.tools.crosseval import MEASURES, compare, format_compare

    rng = np.random.default_rng(0)

    def doc(values):
        pairs = [{"portrait": f"p{i}", "driver": "d", **{m: float(v) for m in MEASURES}} for i, v in enumerate(values)]
        return {"pairs": pairs, "summary": {m: {"meet_target": int((np.asarray(values) >= 0.8).sum())} for m in MEASURES}}

    a = rng.uniform(0.3, 1.0, 40)
    res = compare(doc(a), doc(a - 0.02))
    r = res["mouth_corr"]
    assert r["pairs"] == 40 and abs(r["mean_change"] + 0.02) < 1e-9 and r["mean_abs_change"] == pytest.approx(0.02)
    assert r["interval_95"][0] - 1e-9 <= -0.02 <= r["interval_95"][1] + 1e-9
    noisy = compare(doc(a), doc(a + rng.normal(0, 0.05, 40)))["pose"]
    lo, hi = noisy["interval_95"]
    assert lo < 0 < hi or abs(noisy["mean_change"]) < 0.03   # noise without a direction
    assert "mouth_corr" in format_compare(res)


def test_evaluate_compare_from_the_command_line(tmp_path, capsys):
    from mimicam.realtime.errors import InputError
    from mimicam.tools.cli import main
    from mimicam.tools.crosseval import MEASURES

    def write(name, shift):
        pairs = [{"portrait": f"p{i}", "driver": "d", **{m: 0.5 + 0.01 * i + shift for m in MEASURES}} for i in range(6)]
        path = tmp_path / name
        path.write_text(json.dumps({"pairs": pairs, "summary": {m: {"meet_target": 0} for m in MEASURES}}))
        return str(path)

    assert main(["evaluate", "--compare", write("a.json", 0.0), write("b.json", 0.05)]) == 0
    out = capsys.readouterr().out
    assert "mouth_corr" in out and "+0.050" in out
    with pytest.raises(InputError):
        from mimicam.tools import evaluate
        import argparse

        p = argparse.ArgumentParser()
        evaluate._add_args(p)
        evaluate.run(p.parse_args([]))   # neither --clips/--out nor --compare
