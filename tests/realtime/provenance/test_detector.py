import time

import numpy as np
import pytest

from mimicam.realtime.provenance.detector import BADGE, BADGE_VERIFIED, DetectorThread, Verdict
from provenance_data import KEY, OTHER_KEY, clip30  # noqa: F401 (fixture)
from test_verifier import mark


def run_detector(frames, key=KEY, timeout=20.0):
    """Each frame is submitted once the detector has judged the previous one (a loaded machine would
    otherwise drop most of them: latest frame wins)."""
    with DetectorThread(key, window=10) as det:
        assert det.badge_text() == BADGE
        for f in frames:
            seen, t0 = det.verdict.verdicts, time.perf_counter()
            det.submit(f)
            while det.verdict.verdicts == seen and time.perf_counter() - t0 < timeout:
                time.sleep(0.01)
        return det.verdict, det.badge_text(), det.drops, det.error


def test_marked_output_is_verified(clip30):
    verdict, badge, _, error = run_detector(mark(clip30[:15], KEY, 0))
    assert error is None
    assert verdict.marked and verdict.status == "valid" and verdict.session_id == 777
    assert badge == BADGE_VERIFIED


def test_unmarked_or_other_key_never_says_verified_or_real(clip30):
    verdict, badge, _, _ = run_detector([f.copy() for f in clip30[:10]])
    assert not verdict.marked and verdict.status == "absent" and badge == BADGE
    verdict, badge, _, _ = run_detector(mark(clip30[:10], OTHER_KEY, 0))
    assert verdict.marked and verdict.status == "foreign" and badge == BADGE


def test_anonymous_mode_is_verified_without_a_key(clip30):
    verdict, badge, _, error = run_detector(mark(clip30[:15], None, mode="anonymous"), key=None)
    assert error is None and verdict.status == "anonymous" and verdict.session_id is None
    assert badge == BADGE_VERIFIED


def test_submit_is_non_blocking_and_latest_wins(clip30):
    frame = clip30[0]
    with DetectorThread(KEY) as det:
        t = time.perf_counter()
        for _ in range(50):
            det.submit(frame)
        per_call_ms = (time.perf_counter() - t) / 50 * 1e3
        assert per_call_ms < 5.0
        assert det.drops > 0
    with pytest.raises(ValueError, match="status"):
        Verdict(True, "real", 0.0, None, None, 1)
