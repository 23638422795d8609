"""render fits a workflow: --start/--duration/--frames, the driving clip's audio (trimmed alike, in sync),
--no-audio, a driver with no face, and the portrait check before it starts. The test clip with audio is
made here with PyAV from a real driving clip's frames (the shared clips' audio is not relied on)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mimicam.realtime.clip import Span, TrimmedSource
from mimicam.realtime.errors import InputError
from mimicam.tools import cli
from mimicam.tools.render import render
from shared_data import DRIVING, PORTRAITS, need

FPS = 30
RATE = 48000
BURST_S = 1.0  # the clip's audio is silent but for a 1 kHz tone from here on


def _clip(path: Path, frames: list[np.ndarray], audio: bool = True) -> Path:
    """frames at 30 fps (+ AAC mono: silence, then a tone from BURST_S to the end)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = "yuv420p"
        a = out.add_stream("aac", rate=RATE, layout="mono") if audio else None
        for im in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(im, format="bgr24")):
                out.mux(p)
        if a is not None:
            n = round(len(frames) / FPS * RATE)
            t = np.arange(n) / RATE
            wave = np.where(t >= BURST_S, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
            for i in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(wave[None, i:i + 1024], format="fltp", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = RATE, i, Fraction(1, RATE)
                for p in a.encode(fr):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory) -> Path:
    """60 real frames (2 s) of a driving clip, with our own audio track."""
    cap = cv2.VideoCapture(str(need(DRIVING / "lp_d9_man_glasses_webcam.mp4")))
    frames = []
    while len(frames) < 60:
        ok, im = cap.read()
        assert ok
        frames.append(cv2.resize(im, (320, 320)))
    cap.release()
    return _clip(tmp_path_factory.mktemp("clip") / "talk.mp4", frames)


def _streams(path: Path) -> tuple[int, float, float | None, np.ndarray | None]:
    """(video frames, video seconds, audio seconds or None, decoded mono audio or None)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(v))
    vdur = n / float(v.average_rate)
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return n, vdur, None, None
        a = c.streams.audio[0]
        pcm = np.concatenate([f.to_ndarray().reshape(-1) if f.format.is_packed else f.to_ndarray()[0]
                              for f in c.decode(a)])
        return n, vdur, len(pcm) / a.codec_context.sample_rate, pcm


def _onset_s(pcm: np.ndarray, rate: int = RATE) -> float:
    loud = np.flatnonzero(np.abs(pcm) > 0.1)
    return loud[0] / rate if loud.size else float("inf")


def test_trimmed_render_keeps_audio_in_sync(tmp_path, talking_clip):
    out = tmp_path / "trim.mp4"
    s = render(need(PORTRAITS / "lp_s2_man_bw_photo.jpg"), talking_clip, out, backend="ort",
               start_s=0.5, frames=24, progress=False)
    n, vdur, adur, pcm = _streams(out)
    assert n == 24 == s["frames"] and s["audio"] and s["faces"] > 0
    assert adur is not None and abs(adur - vdur) <= 1 / FPS, (adur, vdur)
    # the tone starts 1.0 s into the clip: 0.5 s into a render that starts at 0.5 s
    assert abs(_onset_s(pcm) - (BURST_S - 0.5)) <= 1 / FPS, _onset_s(pcm)


def test_duration_and_no_audio(tmp_path, talking_clip):
    out = tmp_path / "quiet.mp4"
    s = render(need(PORTRAITS / "lp_s2_man_bw_photo.jpg"), talking_clip, out, backend="ort",
               start_s=1.5, duration_s=10.0, audio=False, progress=False)
    n, _, adur, _ = _streams(out)
    assert n == 15 == s["frames"] and adur is None and not s["audio"]  # 2.0 s clip: 0.5 s left after 1.5 s


def test_span_from_args():
    assert Span.from_args(30.0, 1.0, 0.5) == Span(30, 15)
    assert Span.from_args(25.0, 0.0, 2.0, frames=10) == Span(0, 10)
    assert Span.from_args(25.0) == Span(0, None)
    for bad in ({"start_s": -1.0}, {"duration_s": 0.0}, {"frames": 0}, {"start_s": float("nan")}):
        with pytest.raises(InputError):
            Span.from_args(30.0, **bad)


def test_start_past_the_end_is_one_clear_error(talking_clip):
    with pytest.raises(InputError, match="past the end"):
        TrimmedSource(talking_clip, Span(600, None)).open()


def test_driver_without_a_face_exits_1_and_says_so(tmp_path, capsys):
    wall = _clip(tmp_path / "wall.mp4", [np.full((240, 320, 3), 120, np.uint8)] * 12, audio=False)
    out = tmp_path / "o.mp4"
    rc = cli.main(["render", "--source", str(need(PORTRAITS / "lp_s2_man_bw_photo.jpg")), "--driving", str(wall),
                   "--out", str(out), "--backend", "ort"])
    cap = capsys.readouterr()
    assert rc == 1 and "a face was found in 0 of 12 driving frames" in cap.out
    assert "no face in any driving frame" in cap.err and out.exists()


def test_strict_refuses_a_portrait_with_warnings(tmp_path, capsys, talking_clip):
    out = tmp_path / "o.mp4"
    portrait = need(PORTRAITS / "avatarify_obama.jpg")  # cropped at the chin, no room above the head
    rc = cli.main(["render", "--source", str(portrait), "--driving", str(talking_clip), "--out", str(out),
                   "--strict"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not out.exists()
    assert any("warning: the picture ends at the chin" in ln for ln in err)
    assert err[-1].startswith("mimicam render: error: portrait") and "--strict" in err[-1]


def test_truncated_video_is_one_line_without_ffmpeg_noise(tmp_path):
    import subprocess
    import sys

    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4").read_bytes()[:2000])
    r = subprocess.run([sys.executable, "-m", "mimicam.tools.cli", "render", "--source",
                        str(need(PORTRAITS / "lp_s2_man_bw_photo.jpg")), "--driving", str(trunc),
                        "--out", str(tmp_path / "o.mp4")], capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "moov atom" not in r.stderr
    assert len(lines) == 1 and lines[0].startswith("mimicam render: error: video") and "cannot be decoded" in lines[0]


def test_audio_that_cannot_be_copied_leaves_a_silent_video_and_a_note(tmp_path, talking_clip, monkeypatch):
    import mimicam.realtime.clip as clip

    def broken(*_a, **_k):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(clip, "mux_audio", broken)  # what add_audio calls
    out = tmp_path / "o.mp4"
    s = render(need(PORTRAITS / "lp_s2_man_bw_photo.jpg"), talking_clip, out, backend="ort", frames=5,
               progress=False)
    assert not s["audio"] and any("audio could not be copied" in n for n in s["notes"])
    assert _streams(out)[0] == 5 and _streams(out)[2] is None
