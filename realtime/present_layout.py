"""Presenter mode's view: the driving camera, the avatar as sent, a provenance panel and a latency
sparkline, drawn side by side into one BGR canvas (pure numpy/cv2; no window, no pipeline).

``PresenterLayout`` is the geometry (validated once); ``PanelState`` is what the panels say for one
frame; ``PresenterCanvas.draw`` writes a frame into a canvas allocated once in ``__init__``. The text
lines each panel shows are built by ``provenance_lines`` and ``latency_lines`` so that tests can look
for them in the decoded output."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_DUPLEX
BG = (28, 28, 28)
PANEL_BG = (44, 40, 36)
TEXT = (235, 235, 235)
DIM = (160, 160, 160)
SPARK = (80, 220, 255)           # the sparkline (amber-yellow)
# the detector's verdict (realtime.provenance.verifier.STATUSES) or "none" yet -> the lamp's BGR colour
LAMP = {"valid": (60, 190, 60), "unbound": (200, 60, 200), "foreign": (40, 40, 220), "damaged": (0, 120, 255),
        "anonymous": (220, 160, 40), "absent": (40, 200, 230), "none": (120, 120, 120)}
DRIVER_MODES = ("show", "blur", "hide")
HOTKEYS = "q quit  n next portrait  c recalibrate  w mark on/off  f freeze  v verify last 10 s  b driver view"
VERIFY_MEANING = {0: "valid mark (this key)", 3: "no mark found (not proof it is real)",
                  4: "mark not bound here, or another key", 5: "mark found, payload damaged",
                  6: "anonymous mark (names no one)"}


@dataclass(frozen=True)
class PresenterLayout:
    """Two panels on top (driver | avatar), two below (provenance | latency), a hotkey footer."""

    width: int = 1280
    height: int = 720

    def __post_init__(self) -> None:
        if self.width < 640 or self.height < 360 or self.width % 2 or self.height % 2:
            raise ValueError(f"PresenterLayout size: expected even width >= 640 and height >= 360, "
                             f"got {self.width}x{self.height}")

    @property
    def footer_h(self) -> int:
        return max(18, self.height // 30)

    @property
    def rects(self) -> dict[str, tuple[int, int, int, int]]:
        """name -> (x, y, w, h) in canvas pixels."""
        half_w, top_h = self.width // 2, (self.height - self.footer_h) // 2
        bottom_h = self.height - self.footer_h - top_h
        return {"driver": (0, 0, half_w, top_h), "avatar": (half_w, 0, self.width - half_w, top_h),
                "provenance": (0, top_h, half_w, bottom_h), "latency": (half_w, top_h, self.width - half_w, bottom_h),
                "footer": (0, self.height - self.footer_h, self.width, self.footer_h)}


@dataclass(frozen=True)
class PanelState:
    """What the provenance and latency panels show for one frame."""

    badge_text: str = "SYNTHETIC"
    mark_on: bool = True
    mac: str = "none"                     # the detector's verdict (a key of LAMP): valid ... absent | none (not yet)
    p_value: float | None = None
    verdicts: int = 0
    classifier_score: float | None = None
    verify_line: str = "press v to verify the last 10 s"
    driver_mode: str = "show"
    frozen: bool = False
    latency_ms: tuple[float, ...] = field(default_factory=tuple)   # oldest first
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.mac not in LAMP:
            raise ValueError(f"PanelState.mac: expected one of {tuple(LAMP)}, got {self.mac!r}")
        if self.driver_mode not in DRIVER_MODES:
            raise ValueError(f"PanelState.driver_mode: expected one of {DRIVER_MODES}, got {self.driver_mode!r}")


def provenance_lines(s: PanelState) -> list[str]:
    verdict = {"none": "waiting for the first verdict", "valid": "VALID (this key)", "unbound": "NOT BOUND to this",
               "foreign": "another key's mark", "damaged": "mark damaged", "anonymous": "anonymous mark",
               "absent": "no mark seen"}[s.mac]
    p = "" if s.p_value is None or s.mac == "none" else f"  p={s.p_value:.2g}"
    score = "n/a" if s.classifier_score is None else f"{s.classifier_score:.2f}"
    return [f"badge: {s.badge_text}",
            f"mark: {'ON' if s.mark_on else 'OFF (demo)'}",
            f"detector: {verdict}{p}",
            f"classifier: {score} (advisory)",
            s.verify_line]


def latency_lines(s: PanelState) -> list[str]:
    if not s.latency_ms:
        return ["capture -> view latency, ms", "p50 --  p95 --  fps --"]
    p50, p95 = np.percentile(np.asarray(s.latency_ms), (50, 95))
    fps = "--" if s.fps is None else f"{s.fps:.1f}"
    return ["capture -> view latency, ms", f"p50 {p50:.0f}  p95 {p95:.0f}  fps {fps}"]


def _text(img: np.ndarray, line: str, org: tuple[int, int], px: int, color=TEXT) -> None:
    scale = cv2.getFontScaleFromHeight(FONT, px, 1)
    cv2.putText(img, line, org, FONT, scale, color, 1, cv2.LINE_AA)


def _fit(dst: np.ndarray, image: np.ndarray, buffers: dict | None = None) -> None:
    """Letterbox ``image`` into ``dst`` (a canvas view), keeping its aspect ratio. ``buffers`` keeps one
    resize buffer per size, so that a steady stream allocates nothing per frame."""
    h, w = dst.shape[:2]
    ih, iw = image.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = max(1, int(iw * s)), max(1, int(ih * s))
    x, y = (w - nw) // 2, (h - nh) // 2
    buf = None if buffers is None else buffers.get((nw, nh))
    if buf is None:
        buf = np.empty((nh, nw, 3), np.uint8)
        if buffers is not None:
            buffers[(nw, nh)] = buf
    cv2.resize(image, (nw, nh), dst=buf, interpolation=cv2.INTER_AREA)
    dst[:y] = BG
    dst[y + nh:] = BG
    dst[y:y + nh, :x] = BG
    dst[y:y + nh, x + nw:] = BG
    dst[y:y + nh, x:x + nw] = buf


def anonymise(image: np.ndarray, mode: str) -> np.ndarray | None:
    """``show``: as is; ``blur``: pixelated to 12 blocks across, then blurred; ``hide``: None."""
    if mode == "show":
        return image
    if mode == "hide":
        return None
    h, w = image.shape[:2]
    small = cv2.resize(image, (12, max(1, 12 * h // w)), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(2, w / 48))


class PresenterCanvas:
    """Draws the presenter view. ``draw(driver, avatar, state)`` -> the canvas (reused: copy to keep).
    With ``state.frozen`` the driver and avatar panels keep their last pixels."""

    def __init__(self, layout: PresenterLayout | None = None) -> None:
        self.layout = layout or PresenterLayout()
        self.canvas = np.empty((self.layout.height, self.layout.width, 3), np.uint8)
        self.canvas[:] = BG
        self.px = max(12, self.layout.height // 34)          # text height in pixels
        self._buffers: dict = {}
        self._views = {name: self.canvas[y:y + h, x:x + w] for name, (x, y, w, h) in self.layout.rects.items()}

    def view(self, name: str) -> np.ndarray:
        return self._views[name]

    def draw(self, driver: np.ndarray | None, avatar: np.ndarray | None, state: PanelState) -> np.ndarray:
        if not state.frozen:
            self._draw_driver(driver, state.driver_mode)
            if avatar is not None:
                _fit(self._views["avatar"], avatar, self._buffers)
        self._label("driver", f"driver camera ({state.driver_mode})" + ("  FROZEN" if state.frozen else ""))
        self._label("avatar", "avatar as sent" + ("  FROZEN" if state.frozen else ""))
        self._draw_provenance(state)
        self._draw_latency(state)
        foot = self._views["footer"]
        foot[:] = BG
        _text(foot, HOTKEYS, (8, foot.shape[0] - max(4, foot.shape[0] // 4)), int(foot.shape[0] * 0.55), DIM)
        return self.canvas

    def _label(self, name: str, text: str) -> None:
        v = self._views[name]
        (tw, _), _ = cv2.getTextSize(text, FONT, cv2.getFontScaleFromHeight(FONT, self.px, 1), 1)
        v[: int(self.px * 1.9), : tw + 16] = BG
        _text(v, text, (8, self.px + 6), self.px, DIM)

    def _draw_driver(self, driver: np.ndarray | None, mode: str) -> None:
        v = self._views["driver"]
        shown = anonymise(driver, mode) if driver is not None else None
        if shown is None:
            v[:] = BG
            _text(v, "driver hidden" if driver is not None else "no driver frame", (v.shape[1] // 3, v.shape[0] // 2),
                  self.px, DIM)
        else:
            _fit(v, shown, self._buffers)

    def _draw_provenance(self, s: PanelState) -> None:
        v = self._views["provenance"]
        v[:] = PANEL_BG
        step = int(self.px * 1.9)
        _text(v, "PROVENANCE", (14, step), self.px, DIM)
        lamp_r = self.px
        cv2.circle(v, (v.shape[1] - 2 * lamp_r - 8, step), lamp_r, LAMP[s.mac], -1, cv2.LINE_AA)
        for i, line in enumerate(provenance_lines(s)):
            color = (120, 120, 255) if (i == 1 and not s.mark_on) else TEXT
            _text(v, line, (14, step * (i + 2)), self.px, color)

    def _draw_latency(self, s: PanelState) -> None:
        v = self._views["latency"]
        v[:] = PANEL_BG
        step = int(self.px * 1.9)
        for i, line in enumerate(latency_lines(s)):
            _text(v, line, (14, step * (i + 1)), self.px, DIM if i == 0 else TEXT)
        box = self.spark_box()
        x0, y0, w, h = box
        cv2.rectangle(v, (x0, y0), (x0 + w, y0 + h), (90, 90, 90), 1)
        if len(s.latency_ms) >= 2:
            a = np.asarray(s.latency_ms, np.float64)
            top = max(float(np.percentile(a, 95)) * 1.5, 1.0)    # a single stall does not flatten the rest
            a = np.minimum(a, top)
            xs = x0 + np.linspace(0, w, len(a))
            ys = y0 + h - a / top * h
            pts = np.stack([xs, ys], 1).round().astype(np.int32)
            cv2.polylines(v, [pts], False, SPARK, 2, cv2.LINE_AA)
            _text(v, f"{top:.0f}", (x0 + 4, y0 + self.px + 4), int(self.px * 0.8), DIM)

    def spark_box(self) -> tuple[int, int, int, int]:
        """The sparkline's (x, y, w, h) inside the latency panel."""
        _, _, w, h = self.layout.rects["latency"]
        y0 = int(self.px * 1.9) * 2 + self.px
        return 14, y0, w - 28, h - y0 - 14
