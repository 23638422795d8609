"""Fail-closed marking and badging: the badge is on 100% of 10,000 emitted frames, also when the mark
and badge stages fail at random."""
import numpy as np

from mimicam.realtime.badge import Badge, _render
from mimicam.realtime.finish import SLATES, Finisher
from mimicam.realtime.provenance.keys import load_or_create_key
from mimicam.realtime.provenance.watermark import Watermarker


def _badge_region(w: int, h: int):
    patch, (x, y) = _render(w, h, "SYNTHETIC")
    return patch, (slice(y, y + patch.shape[0]), slice(x, x + patch.shape[1]))


class _FlakyBadge(Badge):
    def __init__(self, rng):
        super().__init__()
        self.rng = rng

    def draw(self, image, text="SYNTHETIC"):
        if self.rng.random() < 0.05:
            raise RuntimeError("injected badge fault")
        return super().draw(image, text)


def test_badge_on_every_one_of_10000_frames_with_injected_faults(tmp_path):
    rng = np.random.default_rng(7)
    w, h = 160, 120
    wm = Watermarker(load_or_create_key(tmp_path)).open()

    def flaky_embed(image, counter):
        if rng.random() < 0.05:
            raise ValueError("injected mark fault")
        wm.embed(image, counter)

    base = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    patch, region = _badge_region(w, h)
    kinds = {"generated": 0, "slate": 0}
    with Finisher((w, h), flaky_embed, badge=_FlakyBadge(rng)) as fin:
        for i in range(10_000):
            frame = base.copy()
            out, kind, _, _ = fin.finish(frame, "generated", i)
            kinds[kind] += 1
            assert np.array_equal(out[region], patch), f"frame {i} ({kind}) has no badge"
            if kind == "slate":
                assert not np.array_equal(out, base) and out.mean() < 80  # the slate, not the frame
    assert fin.failures == kinds["slate"] and 700 < kinds["slate"] < 1300  # ~10% injected faults
    wm.close()


def test_slates_are_prerendered_badged_copies():
    w, h = 320, 240
    patch, region = _badge_region(w, h)
    with Finisher((w, h)) as fin:
        for key in SLATES:
            a, b = fin.slate(key), fin.slate(key)
            assert np.array_equal(a[region], patch) and a is not b
            a[:] = 0  # a sink or a stamp writing into it does not change the next one
            assert np.array_equal(fin.slate(key)[region], patch)


def test_mark_off_skips_the_mark_but_never_the_badge():
    w, h = 320, 240
    calls = []
    base = np.full((h, w, 3), 90, np.uint8)
    with Finisher((w, h), lambda image, counter: calls.append(counter), lambda: "SYNTHETIC - verified") as fin:
        assert fin.text() == "SYNTHETIC - verified"
        fin.mark_on = False
        out, kind, _, _ = fin.finish(base.copy(), "generated", 0)
        patch, region = _badge_region(w, h)
        off, (x, y) = _render(w, h, "SYNTHETIC - mark off")
        assert kind == "generated" and calls == [] and fin.text() == "SYNTHETIC - mark off"
        assert np.array_equal(out[y:y + off.shape[0], x:x + off.shape[1]], off)
        fin.mark_on = True
        fin.finish(base.copy(), "generated", 1)
        assert calls == [1]
