"""`mimicam verify` on real frames: one exit code and one wording per verdict, the JSON report window by
window, and the key-file rules (verify never creates a key)."""
import argparse
import json
import os

import cv2
import numpy as np
import pytest

from shared_data import DRIVING
from mimicam.realtime.errors import InputError
from mimicam.realtime.provenance.keys import KEY_FILE, load_or_create_key
from mimicam.realtime.provenance.watermark import Watermarker
from mimicam.tools import verify
from mimicam.tools.cli import main

CLIP = DRIVING / "lp_d10_woman_blink_talk.mp4"
FIXED_KEY = bytes(range(32))


def write_frames(folder, key, n=30, quality=75, mode="attributed", suffix=".jpg"):
    folder.mkdir()
    cap = cv2.VideoCapture(str(CLIP))
    wm = Watermarker(key, session_id=4321 if key else None, mode=mode).open() if key or mode == "anonymous" else None
    for i in range(n):
        ok, f = cap.read()
        assert ok
        if wm:
            wm.embed(f, i)
        cv2.imwrite(str(folder / f"{i:03d}{suffix}"), f, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return folder


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "fixed.key"
    path.write_bytes(FIXED_KEY)
    os.chmod(path, 0o600)
    return path


def test_marked_frames_exit_0_with_window_evidence(tmp_path, capsys):
    folder = write_frames(tmp_path / "ours", load_or_create_key())
    out = tmp_path / "r.json"
    assert main(["verify", str(folder), "--json", str(out), "--window", "15"]) == 0
    assert capsys.readouterr().out.split(": ", 1)[1].startswith("SYNTHETIC: made by this mimicam install")
    report = json.loads(out.read_text())
    assert report["marked"] and report["status"] == "valid" and report["session_id"] == 4321
    assert report["exit_code"] == 0 and report["frames"] == 30 and report["p_value"] <= 1e-6
    assert [(w["first_frame"], w["last_frame"]) for w in report["windows"]] == [(0, 14), (15, 29)]
    for w in report["windows"]:
        assert w["status"] == "valid" and w["key_id"] == "current" and w["binding"] >= 0.65
        assert w["z"] > 0 and w["scale"] and w["mirrored"] is False and w["hypotheses"] > 1e6


def test_real_video_exits_3_and_never_says_real_or_synthetic(capsys):
    assert main(["verify", str(CLIP), "--frames", "30"]) == 3
    out = capsys.readouterr().out
    assert "does not mean the content is real" in out and "SYNTHETIC" not in out


def test_other_key_exits_4_without_synthetic(tmp_path, capsys):
    folder = write_frames(tmp_path / "theirs", os.urandom(32))
    assert main(["verify", str(folder)]) == 4
    out = capsys.readouterr().out
    assert "does not open under your key" in out and "SYNTHETIC" not in out


def test_transplanted_mark_exits_4(tmp_path, keyfile, capsys):
    """Our frames' mark difference added to other real footage: a mark, never a valid one."""
    folder = tmp_path / "transplant"
    folder.mkdir()
    cap, other = cv2.VideoCapture(str(CLIP)), cv2.VideoCapture(str(DRIVING / "lp_d9_man_glasses_webcam.mp4"))
    with Watermarker(FIXED_KEY, session_id=1) as wm:
        for i in range(30):
            f, g = cap.read()[1], other.read()[1]
            g = cv2.resize(g, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_AREA)
            marked = f.copy()
            wm.embed(marked, i)
            forged = np.clip(g.astype(np.int16) + marked.astype(np.int16) - f, 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"{i:03d}.png"), forged)
    code = main(["verify", str(folder), "--key", str(keyfile)])
    assert code in (4, 5)
    assert "SYNTHETIC" not in capsys.readouterr().out


def test_anonymous_mark_exits_6(tmp_path, capsys):
    folder = write_frames(tmp_path / "anon", None, mode="anonymous")
    assert main(["verify", str(folder)]) == 6
    out = capsys.readouterr().out
    assert "names no one" in out and "SYNTHETIC" not in out


def test_single_screenshots_are_detected(tmp_path, keyfile):
    """Each of 6 frames alone, as PNG and as JPEG q70: the mark is found (valid, or unreadable payload)."""
    png = write_frames(tmp_path / "png", FIXED_KEY, n=6, suffix=".png")
    jpg = write_frames(tmp_path / "jpg", FIXED_KEY, n=6, quality=70)
    codes = [main(["verify", str(p), "--key", str(keyfile)]) for p in sorted([*png.iterdir(), *jpg.iterdir()])]
    assert all(c in (0, 5) for c in codes), codes


def test_verify_never_creates_a_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIMICAM_CONFIG_DIR", str(tmp_path / "empty"))
    folder = write_frames(tmp_path / "ours", FIXED_KEY, n=10)
    assert main(["verify", str(folder)]) == 4       # a mark, but no key here to attribute it
    assert not (tmp_path / "empty" / KEY_FILE).exists()
    assert "no watermark key on this machine" in capsys.readouterr().err


def test_key_file_option_and_loose_mode_warning(tmp_path, keyfile):
    folder = write_frames(tmp_path / "ours", FIXED_KEY, n=10)
    assert main(["verify", str(folder), "--key", str(keyfile)]) == 0
    os.chmod(keyfile, 0o644)
    with pytest.warns(UserWarning, match="readable by other users"):
        assert main(["verify", str(folder), "--key", str(keyfile)]) == 0


def test_key_rotate_keeps_old_key_for_verification_only_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIMICAM_CONFIG_DIR", str(tmp_path / "cfg"))
    old = load_or_create_key()
    folder = write_frames(tmp_path / "old", old, n=10)
    assert main(["key", "rotate", "--keep-old"]) == 0
    assert main(["verify", str(folder)]) == 0           # the retired key still verifies
    assert main(["key", "rotate"]) == 0                  # the previous current key is deleted, not kept
    assert main(["key", "show"]) == 0
    out = capsys.readouterr().out
    assert out.count("retired:") == 1 and "old key deleted" in out


@pytest.mark.parametrize("argv", [["verify", "/no/such/file.mp4"], ["verify"], ["verify", "x.png", "--key", "/no/key"]])
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
