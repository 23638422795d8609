"""The driving clip of an offline render: which frames (``--start``/``--duration``/``--frames``) and its
audio, trimmed the same way and muxed into the rendered video.

``Span`` turns the user's seconds and frame counts into frames once; ``TrimmedSource`` replays only
those frames of the clip; ``mux_audio`` copies the rendered video's packets and adds the clip's audio
for exactly the rendered frames (decoded, cut to the sample, encoded as AAC), so the two stay in sync.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .capture import CaptureSource, open_source
from .errors import InputError


@dataclass(frozen=True)
class Span:
    """Frames ``start`` .. ``start + count`` (``count`` None: to the end of the clip)."""

    start: int = 0
    count: int | None = None

    def __post_init__(self) -> None:
        if self.start < 0:
            raise InputError(f"--start is {self.start} frames", "give a time of 0 or more seconds")
        if self.count is not None and self.count < 1:
            raise InputError("the requested part of the driving video is empty",
                             "give --duration or --frames of at least one frame")

    @staticmethod
    def from_args(fps: float, start_s: float = 0.0, duration_s: float | None = None,
                  frames: int | None = None) -> "Span":
        for name, v in (("--start", start_s), ("--duration", duration_s)):
            if v is not None and (not math.isfinite(v) or v < 0):
                raise InputError(f"{name} is {v}", "give a number of seconds, 0 or more")
        if duration_s is not None and duration_s <= 0:
            raise InputError(f"--duration is {duration_s}", "give a number of seconds above 0")
        if frames is not None and frames < 1:
            raise InputError(f"--frames is {frames}", "give 1 or more")
        count = None if duration_s is None else max(1, round(duration_s * fps))
        if frames is not None:
            count = frames if count is None else min(count, frames)
        return Span(round(start_s * fps), count)


class TrimmedSource(CaptureSource):
    """Only the frames of ``span`` of a driving video or image folder (offline: never paced)."""

    def __init__(self, driving: str | Path, span: Span) -> None:
        self.driving, self.span = driving, span
        self._inner: CaptureSource | None = None
        self._n = 0

    def open(self) -> "TrimmedSource":
        self._inner = open_source(self.driving, paced=False).open()
        self.fps = self._inner.fps
        for skipped in range(self.span.start):
            if self._inner.read() is None:
                self.close()
                raise InputError(f"--start is past the end of {self.driving} ({skipped} frames)",
                                 "give an earlier --start")
        self._n = 0
        return self

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def read(self) -> np.ndarray | None:
        if self.span.count is not None and self._n >= self.span.count:
            return None
        image = self._inner.read()
        if image is not None:
            self._n += 1
        return image


@dataclass(frozen=True)
class ClipPlan:
    span: Span
    source: TrimmedSource
    fps: float
    total: int | None  # frames to render, when the clip's length is known

    @property
    def start_s(self) -> float:
        return self.span.start / self.fps


def plan_clip(driving: str | Path, start_s: float = 0.0, duration_s: float | None = None,
              frames: int | None = None) -> ClipPlan:
    """The part of the clip to render. The clip is opened once here for its frame rate and length, so a
    bad file is reported before anything else is opened."""
    with open_source(driving, paced=False) as probe:
        fps, count = probe.fps, probe.frame_count
    span = Span.from_args(fps, start_s, duration_s, frames)
    total = span.count
    if count:
        total = min(total or count, count - span.start)
    return ClipPlan(span, TrimmedSource(driving, span), fps, total if total and total > 0 else None)


def add_audio(video: Path, driving: str | Path, start_s: float, fps: float) -> tuple[bool, str | None]:
    """``mux_audio`` for the CLI: (muxed?, a note when the clip's audio could not be converted; the
    video then stays silent)."""
    import av

    try:
        return mux_audio(video, Path(driving), start_s, fps), None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        return False, f"the driving video's audio could not be copied ({exc}); the output has no audio"


def has_audio(path: str | Path) -> bool:
    import av

    try:
        with av.open(str(path)) as c:
            return bool(c.streams.audio)
    except (av.error.FFmpegError, OSError):
        return False


def mux_audio(video: Path, driving: Path, start_s: float, fps: float) -> bool:
    """Add the audio of ``driving`` from ``start_s`` for as long as ``video`` lasts (frames / fps) to
    ``video``, in place (a temporary file beside it, then an atomic replace). False when the clip has none."""
    import av

    if not has_audio(driving):
        return False
    parent = video.parent if str(video.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".mimicam-audio-", suffix=video.suffix or ".mp4", dir=parent)
    os.close(fd)
    try:
        with av.open(str(video)) as vin, av.open(str(driving)) as ain, av.open(tmp, "w", format="mp4") as out:
            vstream = vin.streams.video[0]
            frames = vstream.frames or sum(1 for _ in vin.demux(vstream) if _.size)
            vin.seek(0)
            ostream = out.add_stream_from_template(vstream)
            astream = ain.streams.audio[0]
            rate = astream.codec_context.sample_rate or 48000
            layout = astream.codec_context.layout.name if astream.codec_context.layout else "stereo"
            aout = out.add_stream("aac", rate=rate, layout=layout)
            t0 = _video_start(ain)
            _write_audio(ain, astream, aout, out, rate, layout, t0 + start_s, frames / fps)
            for packet in vin.demux(vstream):
                if packet.dts is None:
                    continue
                packet.stream = ostream
                out.mux(packet)
        os.replace(tmp, video)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


def _video_start(container) -> float:
    v = container.streams.video[0] if container.streams.video else None
    if v is None or v.start_time is None:
        return 0.0
    return float(v.start_time * v.time_base)


def _write_audio(ain, astream, aout, out, rate: int, layout: str, begin_s: float, length_s: float) -> None:
    """Decode, resample to the encoder's format, keep samples [begin, begin + length) and encode them."""
    import av

    resampler = av.AudioResampler(format=aout.codec_context.format.name, layout=layout, rate=rate)
    first, total = round(begin_s * rate), round(length_s * rate)
    pos = None  # absolute sample index of the next resampled sample
    written = 0
    for frame in ain.decode(astream):
        if pos is None:
            pos = round(float(frame.pts * frame.time_base) * rate) if frame.pts is not None else 0
        for rf in resampler.resample(frame):
            written += _emit(rf, pos, first, total, written, aout, out, layout, rate)
            pos += rf.samples
        if written >= total:
            break
    for packet in aout.encode(None):
        out.mux(packet)


def _emit(rf, pos: int, first: int, total: int, written: int, aout, out, layout: str, rate: int) -> int:
    import av

    a, b = max(first + written - pos, 0), min(rf.samples, first + total - pos)
    if b <= a:
        return 0
    data = rf.to_ndarray()[:, a:b] if rf.format.is_planar else rf.to_ndarray()[:, a * len(rf.layout.channels):
                                                                               b * len(rf.layout.channels)]
    piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=rf.format.name, layout=layout)
    piece.sample_rate, piece.pts = rate, written
    for packet in aout.encode(piece):
        out.mux(packet)
    return b - a
