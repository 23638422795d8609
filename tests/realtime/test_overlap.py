"""Live with ``overlap``: the next frame's landmarks are found on their own thread while this one is generated
and finished. On a real clip replayed as a camera: every frame is generated from its own landmarks, in
capture order, on the landmark thread; drops are counted; the stages still add up to capture-to-sink."""
from __future__ import annotations

import threading

import numpy as np

from mimicam.realtime.pipeline import Pipeline, PipelineOptions

from shared_data import DRIVING, need

FRAMES = 45


def test_overlapped_landmarks_run_on_their_own_thread_and_keep_the_frames_in_order(portrait_path):
    clip = need(DRIVING / "lp_d9_man_glasses_webcam.mp4")
    opts = PipelineOptions(portrait=portrait_path, driving=clip, backend="ort", realtime=True, fps=30.0,
                           max_frames=FRAMES, detector=False, overlap=True)
    seen: list[tuple[int, str]] = []
    threads: set[str] = set()
    with Pipeline(opts, on_output=lambda f: seen.append((f.source_index, f.kind))) as pipe:
        detect = pipe.landmarks.detect

        def spy(image, t_ns):
            threads.add(threading.current_thread().name)
            return detect(image, t_ns)

        pipe.landmarks.detect = spy
        summary = pipe.run()
    assert threads == {"mimicam-landmarks"}
    assert len(seen) == FRAMES and {k for _, k in seen} == {"generated"}  # a face in every frame of the clip
    idx = [i for i, _ in seen]
    assert idx == sorted(idx) and len(set(idx)) == FRAMES  # newest first never reorders, never repeats
    skipped = idx[-1] - idx[0] + 1 - FRAMES
    assert summary["dropped"]["total"] >= skipped  # frames never shown are counted as drops
    c2s = summary["capture_to_sink_ms"]["mean"]
    assert abs(summary["stage_sum_mean_ms"] - c2s) <= 0.02 * c2s  # waiting + stages = capture-to-sink
    assert np.isfinite(summary["stages"]["landmarks"]["p50"]) and summary["stages"]["landmarks"]["p50"] > 0
