"""`mimicam verify` on real frames: exit codes 0 / 3 / 4 / 2 and the JSON report."""
import argparse
import json
import os

import cv2
import pytest

from shared_data import DRIVING
from mimicam.realtime.errors import InputError
from mimicam.realtime.provenance.keys import load_or_create_key
from mimicam.realtime.provenance.watermark import Watermarker
from mimicam.tools import verify
from mimicam.tools.cli import main

CLIP = DRIVING / "lp_d10_woman_blink_talk.mp4"


def write_frames(folder, key, n=30, quality=75):
    folder.mkdir()
    cap = cv2.VideoCapture(str(CLIP))
    wm = Watermarker(key, session_id=4321).open() if key else None
    for i in range(n):
        ok, f = cap.read()
        assert ok
        if wm:
            wm.embed(f, i)
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return folder


def test_marked_frames_exit_0_with_json(tmp_path):
    folder = write_frames(tmp_path / "ours", load_or_create_key())
    out = tmp_path / "r.json"
    assert main(["verify", str(folder), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["marked"] and report["mac"] == "valid" and report["session_id"] == 4321
    assert report["exit_code"] == 0 and report["frames"] == 30 and report["p_value"] <= 1e-6


def test_real_video_exits_3(tmp_path, capsys):
    assert main(["verify", str(CLIP), "--frames", "30"]) == 3
    assert "does not mean the content is real" in capsys.readouterr().out


def test_other_key_exits_4(tmp_path):
    folder = write_frames(tmp_path / "theirs", os.urandom(32))
    assert main(["verify", str(folder)]) == 4


def test_single_screenshot(tmp_path):
    folder = write_frames(tmp_path / "one", load_or_create_key(), n=1, quality=95)
    assert main(["verify", str(folder / "000.jpg"), "--scale", "1"]) == 0


@pytest.mark.parametrize("argv", [["verify", "/no/such/file.mp4"], ["verify"]])
def test_bad_input_exits_2(argv, capsys):
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_parser_registration():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    verify.add_parser(sub)
    args = parser.parse_args(["verify", "x.png", "--json", "o.json"])
    assert args.func is verify.run
    with pytest.raises(InputError):
        verify.run(parser.parse_args(["verify", "x.png", "--window", "0"]))
