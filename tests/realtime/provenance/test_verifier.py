"""The mark on real frames: it survives the transport path, mirror and upscale, any frame order; it is
not found where it is absent; every verdict (valid / unbound / foreign / damaged / anonymous / absent)
is reached by the input that should reach it, and a mark moved onto other footage is never valid."""
import math

import numpy as np
import pytest

from mimicam.realtime.provenance import ecc, pattern, scale
from mimicam.realtime.provenance.verifier import MarkResult, MarkVerifier
from mimicam.realtime.provenance.watermark import Watermarker
from provenance_data import KEY, OTHER_KEY, clip30, other30, transport  # noqa: F401 (fixtures)


def mark(frames, key, start=0, session_id=777, mode="attributed"):
    out = []
    with Watermarker(key, session_id=session_id if key else None, mode=mode) as wm:
        for i, f in enumerate(frames):
            x = f.copy()
            wm.embed(x, start + i)
            out.append(x)
    return out


class _ChipEmbedder(Watermarker):
    """An attacker's embedder: the public layout carrying coded payload bits of its choice (no key)."""

    def __init__(self, coded):
        super().__init__(None, mode="anonymous")
        self.coded = coded

    def _chips(self, image, counter):
        static, flipping = pattern.chip_tiles(self.coded(image))
        return static + pattern.flip_sign(counter) * flipping


def embed_chips(frames, coded):
    out = []
    with _ChipEmbedder(coded) as wm:
        for i, f in enumerate(frames):
            x = f.copy()
            wm.embed(x, i)
            out.append(x)
    return out


def verify(frames, key=KEY, verifier=None, **kw):
    v = verifier or MarkVerifier(key, **kw)
    v.reset()
    for f in frames:
        v.feed(f)
    return v.result()


@pytest.fixture(scope="module")
def ours(clip30):
    return mark(clip30, KEY)


@pytest.fixture(scope="module")
def sent(ours):
    """Frames marked with KEY, through I420 + 0.5 downscale + 2 px shift + JPEG q50 4:2:0."""
    return [transport(f) for f in ours]


def test_window_after_transport_is_verified_without_knowing_scale_or_shift(sent):
    r = verify(sent)
    assert r.marked and r.status == "valid" and r.key_id == "current"
    assert r.session_id == 777 and r.frames == 30 and not r.mirrored
    assert abs(r.scale - 0.5) < 0.01 and r.binding > 0.8
    assert r.p_value <= 1e-6
    # the p-value is the union bound over the whole search (scales x angles x mirror x offsets x shifts)
    assert r.hypotheses > 1e9
    # (upright and turned marks each get half of alpha: the upright family is every scale at angle 0)
    upright = r.hypotheses // len(scale.ANGLES)
    assert r.rotation == 0.0
    assert math.isclose(math.log(max(r.p_value, 1e-300)), max(math.log(2 * upright) - r.z ** 2 / 2, -690.8),
                        rel_tol=1e-6)


@pytest.mark.parametrize("name", ["mirror", "upscale 1.5", "upscale 2.0", "downscale 0.35", "rotation 3"])
def test_mirror_and_scale_are_found(ours, name):
    import cv2

    attack = {"mirror": lambda f: np.ascontiguousarray(f[:, ::-1]),
              "upscale 1.5": lambda f: cv2.resize(f, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR),
              "upscale 2.0": lambda f: cv2.resize(f, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC),
              "downscale 0.35": lambda f: cv2.resize(f, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA),
              "rotation 3": lambda f: cv2.warpAffine(f, cv2.getRotationMatrix2D((256, 256), 3.0, 1.0), (512, 512),
                                                     borderMode=cv2.BORDER_REFLECT)}[name]
    r = verify([attack(f) for f in ours[:10]])
    assert r.status == "valid" and r.session_id == 777
    assert r.mirrored == (name == "mirror")
    assert abs(r.rotation - (-3.0 if name == "rotation 3" else 0.0)) <= 0.25
    expected = {"mirror": 1.0, "upscale 1.5": 1.5, "upscale 2.0": 2.0, "downscale 0.35": 0.35, "rotation 3": 1.0}[name]
    assert abs(math.log(r.scale / expected)) < 0.01


def test_verification_is_independent_of_frame_order_and_rate(sent):
    shuffled = [sent[i] for i in np.random.default_rng(3).permutation(len(sent))]
    half_rate = sent[::2]
    for frames in (shuffled, half_rate, sent[::-1]):
        r = verify(frames, scales=(0.5,))
        assert r.status == "valid" and r.session_id == 777
    a, b = verify(sent, scales=(0.5,)), verify(shuffled, scales=(0.5,))
    assert math.isclose(a.z, b.z, rel_tol=1e-9)


def test_unmarked_real_frames_are_not_marked(clip30):
    r = verify([transport(f) for f in clip30])
    assert not r.marked and r.status == "absent" and r.session_id is None
    assert r.p_value > 1e-6 and r.z < 6.5


def test_other_key_is_foreign_never_valid(clip30):
    r = verify([transport(f) for f in mark(clip30, OTHER_KEY)])
    assert r.marked and r.status == "foreign" and r.session_id is None
    # with both keys, the same frames are valid under the other one
    r = verify([transport(f) for f in mark(clip30, OTHER_KEY)], key=[("mine", KEY), ("old", OTHER_KEY)])
    assert r.status == "valid" and r.key_id == "old"


def test_payload_replayed_onto_other_footage_is_unbound(ours, other30):
    """The attacker reads the public coded payload of our frames and embeds it, with the public layout,
    onto other real footage: the MAC holds, the content signature does not."""
    v = MarkVerifier(KEY, scales=(1.0,))
    assert verify(ours, verifier=v).status == "valid"
    bits, _, readable = v.read_payload(v.last_hypothesis)
    assert readable
    harvested = ecc.encode(bits).astype(np.float32) * 2 - 1
    replay = embed_chips(other30, lambda image: harvested)
    r = verify(replay, scales=(1.0,))
    assert r.marked and r.status == "unbound" and r.binding < 0.5
    r = verify([transport(f) for f in replay])
    assert r.status != "valid"


def test_blind_copy_attack_is_never_valid(ours, clip30, other30):
    """Average the high-pass luma of our marked frames and add it to other real footage."""
    import cv2

    def highpass(f):
        y = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return y - cv2.GaussianBlur(y, (0, 0), 3.0)

    est = np.mean([highpass(f) for f in ours], axis=0)
    forged = [np.clip(f.astype(np.float32) + est[:, :, None], 0, 255).astype(np.uint8) for f in other30]
    r = verify(forged, scales=(1.0,))
    assert r.status != "valid"


def test_damaged_payload_is_its_own_verdict(clip30):
    """Pilots intact, payload chips scrambled frame by frame: detected, but unreadable."""
    rng = np.random.default_rng(5)
    frames = embed_chips(clip30, lambda image: rng.choice([-1.0, 1.0], pattern.CODED_BITS))
    r = verify(frames, scales=(1.0,))
    assert r.marked and r.status == "damaged" and r.session_id is None


def test_anonymous_mark_carries_nothing_attributable(clip30, other30):
    a, b = mark(clip30[:10], None, mode="anonymous"), mark(clip30[:10], None, mode="anonymous")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))     # no session, no key: same pixels for anyone
    for key in (KEY, None):
        r = verify([transport(f) for f in a], key=key)
        assert r.marked and r.status == "anonymous" and r.session_id is None and r.key_id is None
    v = MarkVerifier(KEY, scales=(1.0,))
    for frames in (a, mark(other30[:10], None, mode="anonymous")):
        verify(frames, verifier=v)
        bits, _, readable = v.read_payload(v.last_hypothesis)
        assert readable and np.array_equal(bits, pattern.ANONYMOUS_BITS)    # the public codeword, whatever the content
    with pytest.raises(ValueError, match="anonymous"):
        Watermarker(KEY, mode="anonymous")


def test_session_id_is_encrypted_and_unlinkable(clip30, other30):
    """Without the key, the payloads of one session on two contents share nothing recognisable."""
    v = MarkVerifier(None, scales=(1.0,))
    payloads = []
    for frames in (mark(clip30[:10], KEY, session_id=777), mark(other30[:10], KEY, session_id=777)):
        r = verify(frames, verifier=v)
        assert r.status == "foreign" and r.session_id is None     # no key: presence only
        bits, _, readable = v.read_payload(v.last_hypothesis)
        assert readable
        payloads.append(pattern.unpack_payload(bits))
    (c1, s1, t1), (c2, s2, t2) = payloads
    assert c1 != 777 and c2 != 777 and c1 != c2 and t1 != t2 and s1 != s2


def test_more_frames_give_more_evidence_on_moving_content(sent):
    one = verify(sent[:1], scales=(0.5,))
    window = verify(sent, scales=(0.5,))
    assert window.z > one.z


def test_result_validation():
    with pytest.raises(ValueError, match="status"):
        MarkResult(True, 0.0, "real", None, 1)
    with pytest.raises(ValueError, match="window"):
        MarkVerifier(KEY, window=0)
    assert not MarkVerifier(KEY).result().marked


def test_layout_pilot_and_payload_chips_are_disjoint():
    lay = pattern.LAYOUT
    assert np.all(((lay.pilot != 0) | (lay.flip != 0)) == (lay.bit < 0))
    assert lay.pilot_mask.sum() == pattern.N_PILOT and np.sum(lay.flip != 0) == pattern.N_FLIP
    assert not np.any((lay.pilot != 0) & (lay.flip != 0)) and not np.any((lay.flip != 0) & (lay.bit >= 0))
    assert set(np.unique(lay.bit[lay.bit >= 0])) == set(range(pattern.CODED_BITS))


def test_letterboxed_frames_stay_bound(ours):
    """A call app fits our frames into 16:9 with bars: the signature is taken without the bars."""
    def pillarbox(f):
        canvas = np.zeros((512, 910, 3), np.uint8)
        canvas[:, 199:711] = f
        return canvas

    r = verify([pillarbox(f) for f in ours[:10]], scales=(1.0,))
    assert r.status == "valid" and r.binding > 0.8


def test_stream_reuses_a_valid_windows_geometry_and_never_shortcuts_other_content(sent, other30):
    """The second window of a stream is checked at the first valid window's geometry, without the search;
    a window that is not valid there (other footage, even carrying a replayed payload) is searched in full,
    and a new frame size forgets the geometry."""
    import cv2

    v = MarkVerifier(KEY)
    searches = []
    full_search = v._best_scale
    v._best_scale = lambda entries: searches.append(len(entries)) or full_search(entries)
    first = verify(sent, verifier=v)
    assert first.status == "valid" and len(searches) == 1
    second = verify([sent[i] for i in np.random.default_rng(7).permutation(len(sent))], verifier=v)
    assert second.status == "valid" and len(searches) == 1
    assert second.scale == first.scale and math.isclose(second.z, first.z, rel_tol=1e-9)
    assert second.p_value == first.p_value          # the whole search is still counted
    bits, _, _ = v.read_payload(v.last_hypothesis)
    harvested = ecc.encode(bits).astype(np.float32) * 2 - 1
    replay = [transport(f) for f in embed_chips(other30, lambda image: harvested)]
    assert verify(replay, verifier=v).status != "valid" and len(searches) == 2
    assert verify([transport(f) for f in other30], verifier=v).status == "absent" and len(searches) == 3
    bigger = [cv2.resize(f, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_LINEAR) for f in sent[:10]]
    assert verify(sent, verifier=v).status == "valid" and len(searches) == 3
    v.reset()
    v.feed(bigger[0])
    assert v._geometry is None                      # a new size is a new stream
    r = verify(bigger, verifier=v)
    assert len(searches) == 4 and r.status == "valid" and abs(math.log(r.scale / 0.625)) < 0.01
