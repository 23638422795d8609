"""`mimicam present` and `mimicam live --output window` in a real window on a real X server (Xvfb):
screenshots taken by an X tool, every panel checked, hotkeys sent as real key events (xdotool).
Skipped, with the reason, where Xvfb, xdotool or ImageMagick are not installed."""
import subprocess
import sys
from contextlib import contextmanager

import cv2
import numpy as np
import pytest

from mimicam.realtime.assets import demo_portrait_path
from mimicam.realtime.canvas import fit_to_canvas
from mimicam.realtime.present_layout import BG, DIM, PresenterCanvas
from mimicam.realtime.sinks import WindowSink

from present_checks import badge_score, detail, has_line, lamp_state, panel, panel_matches, similarity, spark_pixels
from shared_data import DRIVING, PORTRAITS, need
from xdisplay import start_xvfb

pytestmark = pytest.mark.slow


@pytest.fixture
def xd():
    yield from start_xvfb()


@pytest.fixture(scope="module")
def clip():
    return need(DRIVING / "lp_d6_woman_funny_faces.mp4")   # 33 s: long enough for the whole key sequence


@pytest.fixture(scope="module")
def long_clip(clip, tmp_path_factory):
    """The clip twice over (66 s): `live` has no --loop, and a loaded machine starts slowly."""
    out = tmp_path_factory.mktemp("clip") / "twice.mp4"
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS),
                             frames[0].shape[1::-1])
    for f in frames + frames:
        writer.write(f)
    writer.release()
    return out


@pytest.fixture(scope="module")
def clip_frames(clip):
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            return frames
        frames.append(cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA))


def _start(xd, tmp_path, *args):
    log = open(tmp_path / "out.log", "w")
    return subprocess.Popen([sys.executable, "-m", "mimicam.tools.cli", *args], env=xd.env, stdout=log,
                            stderr=subprocess.STDOUT), tmp_path / "out.log"


def _quit(xd, wid, proc, log):
    xd.press(wid, "q")
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("q did not end the program within 60 s")
    assert rc == 0, log.read_text()[-2000:]


@contextmanager
def _window_session(xd, tmp_path, proc, log, title):
    """The program's window and a ``wait(check, what, timeout=60)`` that screenshots it until ``check`` holds
    (each shot kept in tmp_path). On a failed check the last shot and the program's log are kept; the
    program never outlives the test."""
    try:
        wid = xd.find_window(title)

        def wait(check, what, timeout=60):
            shot = xd.wait_for(wid, check, what, timeout, proc)
            cv2.imwrite(str(tmp_path / ("".join(ch if ch.isalnum() else "_" for ch in what) + ".png")), shot)
            return shot
        yield wid, wait
    except AssertionError:
        shot = getattr(xd, "last_shot", None)
        if shot is not None:
            cv2.imwrite(str(tmp_path / "failed.png"), shot)
        print(log.read_text()[-3000:])
        raise
    finally:
        if proc.poll() is None:
            proc.kill()


def _unletterbox(region: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The picture of size ``shape`` (h, w) that ``_fit`` placed in ``region``, back at its own size."""
    h, w = region.shape[:2]
    s = min(w / shape[1], h / shape[0])
    nw, nh = int(shape[1] * s), int(shape[0] * s)
    x, y = (w - nw) // 2, (h - nh) // 2
    return cv2.resize(region[y:y + nh, x:x + nw], (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _as_sent(path) -> np.ndarray:
    """The portrait as the pipeline sends it: fitted onto the default 1280x720 output canvas."""
    return fit_to_canvas(cv2.imread(str(path)), (1280, 720))[0]


def test_present_window_every_panel_and_hotkeys(xd, tmp_path, clip, clip_frames):
    portrait = _as_sent(demo_portrait_path())
    c = PresenterCanvas()
    proc, log = _start(xd, tmp_path, "present", "--source", str(demo_portrait_path()), "--video", str(clip),
                       "--loop", "--backend", "ort")
    with _window_session(xd, tmp_path, proc, log, "mimicam present") as (wid, wait):
        assert xd.geometry(wid)[2:] == (c.layout.width, c.layout.height)
        # the verdict and the latency sparkline (generated frames): on a loaded machine the first views can
        # be slates, which have no capture-to-view latency, while the verdict comes in
        shot = wait(lambda s: lamp_state(s, c) == "valid" and spark_pixels(s, c) > 100,
                    "the detector's VALID verdict and the latency sparkline")
        cv2.imwrite(str(tmp_path / "present.png"), shot)
        driver = panel(shot, c, "driver")
        best = max(panel_matches(driver, f, c) for f in clip_frames)
        assert best > 0.9                                          # the driving camera, as it was then
        avatar = panel(shot, c, "avatar")
        assert panel_matches(avatar, portrait, c) > 0.6            # the portrait, animated
        sent = _unletterbox(avatar, portrait.shape[:2])
        assert max(badge_score(sent, t) for t in ("SYNTHETIC", "SYNTHETIC - verified")) > 0.8
        prov = panel(shot, c, "provenance")
        assert has_line(prov, "mark: ON", c.px) and has_line(prov, "(advisory)", c.px)
        assert has_line(panel(shot, c, "latency"), "capture -> view latency, ms", c.px, DIM)
        assert has_line(panel(shot, c, "footer"), "v verify last 10 s", int(c.layout.footer_h * 0.55), DIM, BG)

        xd.press(wid, "v")                                          # verify the last 10 s (mark on)
        wait(lambda s: has_line(panel(s, c, "provenance"), "exit 0 - valid mark (this key)", c.px),
                    "the verifier's exit 0", timeout=90)

        xd.press(wid, "w")                                          # mark off: the badge says so
        shot = wait(lambda s: has_line(panel(s, c, "provenance"), "mark: OFF (demo)", c.px,
                                                   (120, 120, 255)), "mark: OFF")
        wait(lambda s: badge_score(_unletterbox(panel(s, c, "avatar"), portrait.shape[:2]),
                                               "SYNTHETIC - mark off") > 0.8, "the 'mark off' badge on the avatar")

        xd.press(wid, "b")                                          # driver view: show -> blur
        shot = wait(lambda s: has_line(panel(s, c, "driver"), "driver camera (blur)", c.px, DIM, BG),
                           "the blurred driver")
        assert detail(panel(shot, c, "driver"), int(c.px * 1.9)) < 0.3 * detail(driver, int(c.px * 1.9))
        xd.press(wid, "b")                                          # blur -> hide
        wait(lambda s: has_line(panel(s, c, "driver"), "driver hidden", c.px, DIM, BG), "driver hidden")

        xd.press(wid, "f")                                          # freeze: the pictures hold still
        a = wait(lambda s: has_line(panel(s, c, "avatar"), "avatar as sent  FROZEN", c.px, DIM, BG),
                        "FROZEN")
        b = wait(lambda s: True, "a second screenshot")
        top = int(c.px * 1.9)
        assert np.abs(panel(a, c, "avatar")[top:].astype(int) - panel(b, c, "avatar")[top:]).mean() < 1.0
        _quit(xd, wid, proc, log)


def test_live_window_preview_and_hotkeys(xd, tmp_path, long_clip):
    first, second = demo_portrait_path(), need(PORTRAITS / "art_lp_s9_mona_lisa.jpg")
    a, b = _as_sent(first), _as_sent(second)
    proc, log = _start(xd, tmp_path, "live", "--source", str(first), str(second), "--video", str(long_clip),
                       "--output", "window", "--backend", "ort")
    with _window_session(xd, tmp_path, proc, log, "mimicam") as (wid, wait):
        assert xd.geometry(wid)[2:] == (a.shape[1], a.shape[0])   # the frame as sent, 1:1
        shot = wait(lambda s: similarity(s, a) > 0.6, "the animated portrait")
        cv2.imwrite(str(tmp_path / "live.png"), shot)
        assert max(badge_score(shot, t) for t in ("SYNTHETIC", "SYNTHETIC - verified")) > 0.9

        def note_shown(text):
            probe = WindowSink(a.shape[1], a.shape[0], 30.0)
            probe._note = (text, float("inf"))
            expected = probe._with_note(np.zeros_like(a))
            box = expected.any(2)
            ys, xs = np.nonzero(box)
            region = (slice(0, ys.max() + 1), slice(0, xs.max() + 1))
            return lambda s: np.abs(s[region].astype(int) - expected[region]).mean() < 8
        xd.press(wid, "c")
        wait(note_shown("recalibrating"), "the 'recalibrating' note")
        xd.press(wid, "n")
        wait(note_shown("next portrait"), "the 'next portrait' note")
        shot = wait(lambda s: similarity(s, b) > 0.6 > similarity(s, a), "the second portrait")
        assert max(badge_score(shot, t) for t in ("SYNTHETIC", "SYNTHETIC - verified")) > 0.9
        _quit(xd, wid, proc, log)
