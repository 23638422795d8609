"""What a file or an option reveals: the recording's encoder settings do not describe the machine, and
the provenance mode is checked once, up front."""
import re

import numpy as np
import pytest

from mimicam.realtime.errors import InputError
from mimicam.realtime.pipeline import PipelineOptions
from mimicam.realtime.sinks import FileSink


def test_recording_encoder_settings_do_not_record_the_core_count(tmp_path):
    """x264 writes its settings into the stream; left on "auto" its thread counts follow the machine's
    cores (``threads=2 ... slices=2`` here). Fixed, they read the same everywhere."""
    path = tmp_path / "rec.mp4"
    with FileSink(128, 96, 30.0, path) as sink:
        for i in range(8):
            sink.write(np.full((96, 128, 3), 20 * i, np.uint8))
    found = re.search(rb"options: [^\x00]*", path.read_bytes())
    assert found is not None
    assert b" threads=4 lookahead_threads=1 sliced_threads=0 " in found.group(0)


def test_provenance_mode_is_validated():
    assert PipelineOptions(portrait="p.png", driving=0, provenance="anonymous").provenance == "anonymous"
    with pytest.raises(InputError, match="provenance"):
        PipelineOptions(portrait="p.png", driving=0, provenance="secret")


def test_anonymous_pipeline_reads_no_key_and_emits_the_public_mark(tmp_path, monkeypatch, driving_clip):
    """(On the 512-px astronaut the untouched mark is too weak to find: see the README's limits.)"""
    from mimicam.realtime.pipeline import Pipeline
    from mimicam.realtime.provenance.verifier import MarkVerifier
    from shared_data import PORTRAITS, need

    portrait_path = need(PORTRAITS / "art_lp_s5_painted_girl.jpg")
    monkeypatch.setenv("MIMICAM_CONFIG_DIR", str(tmp_path / "cfg"))
    frames = []
    opts = PipelineOptions(portrait=portrait_path, driving=driving_clip, output="null", backend="ort",
                           realtime=False, max_frames=12, detector=False, provenance="anonymous")
    with Pipeline(opts, on_output=lambda f: frames.append(f.image.copy())) as pipe:
        pipe.run()
    assert not (tmp_path / "cfg").exists()              # no key read, none created
    v = MarkVerifier(None, scales=(1.0,))
    for f in frames:
        v.feed(f)
    r = v.result()
    assert r.status == "anonymous" and r.session_id is None
