"""What a user does first: `mimicam demo` (or `render`), then `mimicam verify` on its output: exit 0.

Untouched output of this install, through the file sink (H.264), the code path a user runs."""
import cv2
import pytest

from mimicam.tools.cli import main

from shared_data import DRIVING, PORTRAITS, need


def test_demo_then_verify_exits_0(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "--out", str(out), "--frames", "150", "--backend", "ort"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("name", ["skimage_astronaut_eileen_collins.png", "art_lp_s9_mona_lisa.jpg",
                                  "lp_s12_old_man_colorized.jpg#odd"])
def test_render_then_verify_exits_0(tmp_path, capsys, name):
    name, _, odd = name.partition("#")
    portrait = need(PORTRAITS / name)
    if odd:  # cut one row and one column: an odd-sized portrait (373 x 499)
        img = cv2.imread(str(portrait))
        portrait = tmp_path / "odd.png"
        cv2.imwrite(str(portrait), img[:-1, :-1])
    out = tmp_path / "r.mp4"
    assert main(["render", "--source", str(portrait), "--driving", str(need(DRIVING / "lp_d11_child_girl.mp4")),
                 "--out", str(out), "--backend", "ort"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0, capsys.readouterr().out
