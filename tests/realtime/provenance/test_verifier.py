"""The mark survives the transport path on real frames, is not found where it is absent, and its MAC
tells our key from another key and from a replayed counter."""
import math

import numpy as np
import pytest

from mimicam.realtime.provenance import pattern
from mimicam.realtime.provenance.verifier import MarkResult, MarkVerifier
from mimicam.realtime.provenance.watermark import Watermarker
from provenance_data import KEY, OTHER_KEY, clip30, transport  # noqa: F401 (fixture)


def mark(frames, key, start, session_id=777):
    out = []
    with Watermarker(key, session_id=session_id) as wm:
        for i, f in enumerate(frames):
            x = f.copy()
            wm.embed(x, start + i)
            out.append(x)
    return out


def verify(frames, key=KEY, verifier=None, **kw):
    v = verifier or MarkVerifier(key, **kw)
    v.reset()
    for f in frames:
        v.feed(f)
    return v.result()


@pytest.fixture(scope="module")
def sent(clip30):
    """Frames 1000..1029 marked with KEY, through I420 + 0.5 downscale + 2 px shift + JPEG q50 4:2:0."""
    return [transport(f) for f in mark(clip30, KEY, 1000)]


def test_window_after_transport_is_verified_without_knowing_scale_or_shift(sent):
    r = verify(sent)
    assert r.marked and r.mac == "valid"
    assert r.session_id == 777 and r.counter == 1000 and r.frames == 30
    assert abs(r.scale - 0.5) < 0.01
    assert r.p_value <= 1e-6
    # the p-value is the union bound over the whole search
    assert r.hypotheses > 1e7
    assert math.isclose(math.log(max(r.p_value, 1e-300)), max(math.log(r.hypotheses) - r.z ** 2 / 2, -690.8),
                        rel_tol=1e-6)


def test_unmarked_real_frames_are_not_marked(clip30):
    r = verify([transport(f) for f in clip30])
    assert not r.marked and r.mac == "absent" and r.session_id is None
    assert r.p_value > 1e-6 and r.z < 6.0


def test_other_key_is_found_but_its_mac_is_invalid(clip30):
    r = verify([transport(f) for f in mark(clip30, OTHER_KEY, 1000)])
    assert r.marked and r.mac == "invalid" and r.session_id == 777


def test_replayed_old_counter_is_invalid(clip30):
    v = MarkVerifier(KEY, scales=(1.0,))
    assert verify(mark(clip30, KEY, 5000), verifier=v).mac == "valid"
    replay = verify(mark(clip30, KEY, 1000), verifier=v)
    assert replay.marked and replay.mac == "invalid" and "replayed" in replay.note


def test_more_frames_give_more_evidence(sent):
    one = verify(sent[:1], scales=(0.5,))
    window = verify(sent, scales=(0.5,))
    assert window.z > 3 * one.z


def test_result_validation():
    with pytest.raises(ValueError, match="mac"):
        MarkResult(True, 0.0, "maybe", None, 1)
    with pytest.raises(ValueError, match="window"):
        MarkVerifier(KEY, window=0)
    assert not MarkVerifier(KEY).result().marked


def test_layout_pilot_and_payload_chips_are_disjoint():
    lay = pattern.LAYOUT
    assert np.all((lay.pilot != 0) == (lay.bit < 0))
    assert np.all(lay.pilot_mask.sum(axis=(1, 2)) == pattern.N_PILOT)
