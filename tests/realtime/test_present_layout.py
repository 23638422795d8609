"""The presenter view's layout, drawn from real frames (the bundled portrait and demo clip)."""
import cv2
import numpy as np
import pytest

from mimicam.realtime.assets import demo_driving_path, demo_portrait_path
from mimicam.realtime.present_layout import (PanelState, PresenterCanvas, PresenterLayout, latency_lines,
                                             provenance_lines)

from present_checks import detail, has_line, lamp_state, panel, panel_matches, spark_pixels


@pytest.fixture(scope="module")
def frames():
    cap = cv2.VideoCapture(str(demo_driving_path()))
    driver = [cap.read()[1] for _ in range(3)][-1]
    cap.release()
    return driver, cv2.imread(str(demo_portrait_path()))


def test_rects_tile_the_canvas_without_overlap():
    layout = PresenterLayout(1280, 720)
    covered = np.zeros((720, 1280), np.int32)
    for x, y, w, h in layout.rects.values():
        covered[y:y + h, x:x + w] += 1
    assert (covered == 1).all()
    with pytest.raises(ValueError, match="expected even width"):
        PresenterLayout(641, 360)


def test_every_panel_shows_its_content(frames):
    driver, avatar = frames
    canvas = PresenterCanvas()
    state = PanelState(badge_text="SYNTHETIC - verified", mac="valid", p_value=1e-40, verdicts=12,
                       classifier_score=0.97, latency_ms=tuple(40 + 10 * np.sin(np.arange(120) / 5)), fps=29.5)
    view = canvas.draw(driver, avatar, state).copy()
    assert panel_matches(panel(view, canvas, "driver"), driver, canvas) > 0.95
    assert panel_matches(panel(view, canvas, "avatar"), avatar, canvas) > 0.95
    prov = panel(view, canvas, "provenance")
    for line in provenance_lines(state):
        assert has_line(prov, line, canvas.px), line
    assert lamp_state(view, canvas) == "valid"
    p50, p95 = np.percentile(state.latency_ms, (50, 95))
    assert f"p50 {p50:.0f}  p95 {p95:.0f}  fps 29.5" in latency_lines(state)
    for line in latency_lines(state)[1:]:
        assert has_line(panel(view, canvas, "latency"), line, canvas.px), line
    assert spark_pixels(view, canvas) > 500


def test_verdict_lamp_and_lines_follow_the_state(frames):
    driver, avatar = frames
    canvas = PresenterCanvas()
    seen = {}
    for mac in ("none", "absent", "valid", "unbound", "foreign", "damaged", "anonymous"):
        view = canvas.draw(driver, avatar, PanelState(mac=mac, p_value=0.5 if mac == "absent" else 1e-30))
        seen[mac] = lamp_state(view, canvas)
    assert seen == {m: m for m in ("none", "absent", "valid", "unbound", "foreign", "damaged", "anonymous")}
    off = PanelState(badge_text="SYNTHETIC - mark off", mark_on=False)
    view = canvas.draw(driver, avatar, off)
    assert has_line(panel(view, canvas, "provenance"), "mark: OFF (demo)", canvas.px, color=(120, 120, 255))
    assert has_line(panel(view, canvas, "provenance"), "badge: SYNTHETIC - mark off", canvas.px)
    with pytest.raises(ValueError, match="PanelState.mac"):
        PanelState(mac="real")


def test_driver_blur_and_hide_remove_the_face(frames):
    driver, avatar = frames
    canvas = PresenterCanvas()
    shown = canvas.draw(driver, avatar, PanelState(driver_mode="show")).copy()
    blurred = canvas.draw(driver, avatar, PanelState(driver_mode="blur")).copy()
    hidden = canvas.draw(driver, avatar, PanelState(driver_mode="hide")).copy()
    top = int(canvas.px * 1.9)

    assert detail(panel(blurred, canvas, "driver"), top) < 0.15 * detail(panel(shown, canvas, "driver"), top)
    assert panel_matches(panel(hidden, canvas, "driver"), driver, canvas) < 0.3
    assert has_line(panel(hidden, canvas, "driver"), "driver hidden", canvas.px, color=(160, 160, 160), bg=(28, 28, 28))
    # the avatar panel is the same whatever the driver panel does
    assert np.array_equal(panel(shown, canvas, "avatar"), panel(hidden, canvas, "avatar"))


def test_frozen_keeps_the_pictures_but_not_the_panels(frames):
    driver, avatar = frames
    canvas = PresenterCanvas()
    first = canvas.draw(driver, avatar, PanelState()).copy()
    other = cv2.flip(avatar, 1)
    frozen = canvas.draw(cv2.flip(driver, 1), other, PanelState(frozen=True, mac="valid", p_value=1e-9)).copy()
    top = int(canvas.px * 1.9)
    for name in ("driver", "avatar"):
        assert np.array_equal(panel(first, canvas, name)[top:], panel(frozen, canvas, name)[top:])
    assert lamp_state(frozen, canvas) == "valid"
    moving = canvas.draw(driver, other, PanelState()).copy()
    assert panel_matches(panel(moving, canvas, "avatar"), other, canvas) > 0.95
