"""tools/evaluate metrics on known inputs (no pipeline, no MediaPipe): fast; and the self-reenactment
render on a real clip (the pipeline, a few frames): at the clip's own size."""
import cv2
import numpy as np
import pytest

from mimicam.tools import evaluate as ev

from shared_data import DRIVING, need


def _texture(h=96, w=128, seed=0):
    small = np.random.default_rng(seed).integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_ssim_of_identical_images_is_one():
    img = _texture()
    assert ev.ssim(img, img) == pytest.approx(1.0, abs=1e-9)


def test_ssim_drops_with_noise_and_is_symmetric():
    img = _texture()
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    s = ev.ssim(img, noisy)
    assert 0.0 < s < 0.9
    assert ev.ssim(noisy, img) == pytest.approx(s, abs=1e-12)


def test_ssim_map_of_uniform_images_follows_the_luminance_term():
    a, b = np.full((32, 32), 0.5), np.full((32, 32), 0.3)
    expected = (2 * 0.5 * 0.3 + ev.SSIM_C1) / (0.5 ** 2 + 0.3 ** 2 + ev.SSIM_C1)
    np.testing.assert_allclose(ev.ssim_map(a, b), expected, rtol=1e-9)


def test_l1_of_a_known_shift():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[:, 5:] = 51  # half the image off by 0.2
    assert ev.l1(a, b) == pytest.approx(0.1)
    assert ev.l1(a, b, np.ones((10, 10), bool)) == pytest.approx(0.1)
    left = np.zeros((10, 10), bool)
    left[:, :5] = True
    assert ev.l1(a, b, left) == 0.0


def test_l1_of_a_one_pixel_shifted_ramp():
    ramp = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (8, 1))[..., None].repeat(3, -1)
    shifted = np.roll(ramp, 1, axis=1)
    keep = np.ones(ramp.shape[:2], bool)
    keep[:, 0] = False  # the wrapped column
    assert ev.l1(ramp, shifted, keep) == pytest.approx(2 / 255)


def test_badge_mask_covers_the_bottom_left_badge_only():
    keep = ev.badge_keep_mask(320, 240)
    assert keep.shape == (240, 320)
    assert not keep[240 - 12, 20] and keep[10, 10] and keep[240 - 12, 315] and keep[120, 160]
    assert 0.01 < (~keep).mean() < 0.15


def test_badge_is_left_out_of_l1_and_ssim():
    from mimicam.realtime.badge import Badge

    real = _texture(240, 320)
    ours = Badge().draw(real.copy())
    keep = ev.badge_keep_mask(320, 240)
    assert ev.l1(ours, real) > 0.002
    assert ev.l1(ours, real, keep) == 0.0
    assert ev.ssim(ours, real, keep) < 1.0  # windows next to the badge still see it ...
    assert ev.ssim(ours, real, ev.window_keep(keep)) == pytest.approx(1.0, abs=1e-9)  # ... unless left out too


def test_landmark_distance_is_in_face_sizes():
    ref = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    assert ev.face_size(ref) == pytest.approx(100.0)
    assert ev.landmark_distance(ref + [3.0, 4.0], ref) == pytest.approx(0.05)
    assert ev.landmark_distance(ref, ref) == 0.0


def test_largest_motion_frames_are_spread_out():
    motion = {i: float(v) for i, v in enumerate([0, 1, 9, 8, 7, 2, 3, 5, 4, 6])}
    assert ev.pick_largest(motion, 3, min_gap=3) == [2, 6, 9]
    assert ev.pick_largest(motion, 2, min_gap=1) == [2, 3]


def test_contact_sheet_is_written_under_the_size_limit(tmp_path):
    frames = [(i, _texture(240, 320, i), _texture(240, 320, 9), _texture(240, 320, i + 20)) for i in range(3)]
    lm = np.array([[100.0, 80.0], [220.0, 200.0]])
    full, small = tmp_path / "full.png", tmp_path / "small.png"
    ev.write_sheet(full, frames, {i: lm for i in range(3)}, lm, max_bytes=10_000_000)
    img = cv2.imread(str(full))
    assert img.shape == (3 * ev.TILE, 3 * ev.TILE, 3)  # 3 rows of real | static | ours, square tiles
    ev.write_sheet(small, frames, {i: lm for i in range(3)}, lm, max_bytes=full.stat().st_size // 3)
    assert small.stat().st_size <= full.stat().st_size // 3
    assert cv2.imread(str(small)).shape[0] < img.shape[0]


def test_clip_result_json_is_strict_and_says_what_passes():
    import json

    res = ev.ClipResult("c.mp4", 10, ev.Scores(0.1, 0.05, 0.80), ev.Scores(0.02, 0.04, 0.83, no_face=1),
                        {"landmark": 0.2, "l1": 0.8, "ssim_gain": 0.03})
    assert res.passes == {"landmark": True, "l1": True, "ssim": True}
    res.ratios["l1"] = 0.95
    assert res.passes["l1"] is False
    doc = ev.ClipResult("d.mp4", 0, ev.Scores(), ev.Scores(), {"landmark": float("nan"), "l1": 1.0,
                                                                 "ssim_gain": 0.0}).to_json()
    assert doc["static"]["landmark"] is None
    json.loads(json.dumps(doc, allow_nan=False))


def test_cli_without_clips_is_a_one_line_error(tmp_path, capsys):
    assert ev.main(["--clips", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evaluate: error: no video clips") and err.count("\n") == 1


def test_run_prints_each_row_once_and_explains_the_bar(tmp_path, monkeypatch, capsys):
    """Issue 15: the result row was printed twice and "bar --+" was never explained."""
    import argparse

    def fake_clip(clip, out_dir, frames, stride, backend="ort", sheet_bytes=0):
        s, o = ev.Scores(0.02, 0.10, 0.60), ev.Scores(0.004, 0.08, 0.63)
        return ev.ClipResult(clip.name, 10, s, o, {"landmark": 0.2, "l1": 0.8, "ssim_gain": 0.03})

    monkeypatch.setattr(ev, "evaluate_clip", fake_clip)
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"")
    args = argparse.Namespace(clips=[tmp_path], out=tmp_path / "out", frames=10, stride=1, backend="ort", sheet_kb=300,
                              portraits=None)
    assert ev.run(args) == 0
    out = capsys.readouterr().out
    assert out.count("a.mp4") == 1 and out.count("b.mp4") == 1 and out.count("lmk st/ours") == 1
    assert "+++" in out and "bar: one sign per test of the quality bar, + passed, - failed" in out


def test_selfeval_scores_with_the_same_definitions():
    from mimicam.tools import evaluate as E
    from mimicam.tools.selfeval import score

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    got = score(a, b)
    assert got["l1"] == pytest.approx(np.mean([E.l1(x, y) for x, y in zip(a, b)]))
    assert got["ssim"] == pytest.approx(np.mean([E.ssim(x, y) for x, y in zip(a, b)]))
    assert score(a, a) == {"l1": 0.0, "ssim": 1.0}


def test_self_reenactment_is_rendered_at_the_clips_own_size():
    """Output frame i is compared pixel for pixel with real frame i, so it must have the clip's size: render's
    size policy (shorter side >= 720) once scaled a 512-px clip up, and every score compared a zoomed corner."""
    from mimicam.realtime.media import video_frames
    from mimicam.tools.evaluate import render_self

    clip = need(DRIVING / "lp_d11_child_girl.mp4")
    first = next(iter(video_frames(clip, keep={0})))
    out = render_self(clip, first, {3, 6}, 8)
    assert sorted(out) == [3, 6]
    h, w = first.shape[:2]
    assert all(o.shape == (h - h % 2, w - w % 2, 3) for o in out.values())
    real = dict(zip([3, 6], video_frames(clip, keep={3, 6})))
    for i, o in out.items():   # the same picture, not a zoomed part of it: close to the real frame
        a = cv2.cvtColor(o, cv2.COLOR_BGR2GRAY).astype(np.float32)
        b = cv2.cvtColor(real[i][: o.shape[0], : o.shape[1]], cv2.COLOR_BGR2GRAY).astype(np.float32)
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
