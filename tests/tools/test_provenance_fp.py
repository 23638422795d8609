"""The provenance bench's false-positive run: real footage, one 30-frame window at a time, never marked."""
from mimicam.tools import provenance_bench as PB

from shared_data import DRIVING, need


def test_windows_are_consecutive_and_capped():
    clip = str(need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4"))   # 78 frames: two whole windows
    assert [len(w) for w in PB._windows(clip, None)] == [PB.WINDOW, PB.WINDOW]
    assert len(list(PB._windows(clip, 1))) == 1


def test_real_windows_are_not_marked():
    clip = str(need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4"))
    r = PB.false_positives(b"F" * 32, 10, [clip], None)
    assert r["windows"] == 2 and r["marked"] == 0 and r["valid"] == 0
    assert r["z_max"] < r["z_threshold"]
