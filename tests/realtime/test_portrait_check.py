"""The portrait check on the shared portraits (what each one is known to get wrong) and on bad cases
crafted from a clean one: rotated, tiny, blurred, cropped at the chin, lit from one side, mouth opened
by warping. Each crafted case must raise its own warning; the clean one none."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mimicam.realtime.imageio import load_image
from mimicam.realtime.landmarks import find_portrait_face
from mimicam.realtime.portrait_check import CheckRules, check_image, check_portrait, judge
from shared_data import PORTRAITS, need

EXPECTED = {  # portrait -> the warnings it gets (what is visibly wrong with it)
    "lp_s2_man_bw_photo.jpg": set(),
    "art_lp_s5_painted_girl.jpg": set(),
    "lp_s12_old_man_colorized.jpg": set(),
    "art_lp_s10_pearl_earring.jpg": {"yaw"},  # looks over her shoulder
    "avatarify_obama.jpg": {"above", "below"},  # cropped at the hair and the chin
    "art_lp_s7_3d_cartoon_boy.jpg": {"above", "below"},
    "lp_d9_woman_shouting.jpg": {"mouth"},
    "skimage_astronaut_eileen_collins.png": {"teeth"},  # the bundled demo portrait smiles with teeth
    "insightface_t1_group6.jpg": {"roll"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_portraits(name):
    result = check_portrait(need(PORTRAITS / name))
    assert {w.code for w in result.warnings} == EXPECTED[name], result.report()
    assert result.ok == (not EXPECTED[name])


@pytest.fixture(scope="module")
def clean():
    image = load_image(need(PORTRAITS / "lp_s2_man_bw_photo.jpg"))
    return image, find_portrait_face(image).landmarks.xy.astype(np.float64)


def _open_mouth(img: np.ndarray, xy: np.ndarray, amount: float = 0.2) -> np.ndarray:
    """Jaw dropped by warping: below the lip line everything moves down by ``amount`` face heights (fading
    beside the mouth and towards the neck); the opening is filled with a dark mouth interior."""
    h, w = img.shape[:2]
    fh = float(np.linalg.norm(xy[152] - xy[10]))
    d, lip, half = amount * fh, (xy[13] + xy[14]) / 2, abs(xy[291, 0] - xy[61, 0]) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    below = np.clip((yy - lip[1]) / (0.02 * fh) + 0.5, 0, 1)
    across = np.exp(-((xx - lip[0]) / (2.2 * half)) ** 4)
    fade = np.clip(1 - (yy - (xy[152, 1] + d)) / (0.6 * fh), 0, 1)
    out = cv2.remap(img, xx, (yy - d * below * across * fade).astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(lip[0]), int(lip[1] + d / 2)), (int(half * 0.95), int(d / 2)), 0, 0, 360, 1.0, -1)
    soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, d / 12))[..., None]
    return (out * (1 - soft) + np.array([40, 30, 70], np.float32) * soft).astype(np.uint8)


def _crafted(img: np.ndarray, xy: np.ndarray) -> dict[str, np.ndarray]:
    h, w = img.shape[:2]
    fh = float(np.linalg.norm(xy[152] - xy[10]))
    dark = img.astype(np.float32)
    dark[:, int(xy[1, 0]):] *= 0.35  # the face's left half (image right) in deep shadow
    rot = cv2.getRotationMatrix2D((float(xy[1, 0]), float(xy[1, 1])), 25, 1.0)
    return {
        "roll": cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REPLICATE),
        "small": cv2.resize(img, None, fx=60 / fh, fy=60 / fh, interpolation=cv2.INTER_AREA),
        "blur": cv2.GaussianBlur(img, (0, 0), fh / 40),  # ~3 px at the 128-px face the check measures
        "below": img[: int(xy[152, 1] + 0.1 * fh)],
        "light": dark.astype(np.uint8),
        "mouth": _open_mouth(img, xy),
    }


def test_clean_portrait_has_no_warning(clean):
    assert check_image(clean[0]).ok


@pytest.mark.parametrize("code", ["roll", "small", "blur", "below", "light", "mouth"])
def test_crafted_bad_case_gets_its_warning(clean, code):
    result = check_image(_crafted(*clean)[code], code)
    assert code in {w.code for w in result.warnings}, result.report()
    advice = next(w for w in result.warnings if w.code == code)
    assert advice.advice.startswith(("use", "straighten")), advice  # says what to do


def test_rules_are_validated_and_judge_follows_them(clean):
    with pytest.raises(ValueError, match="pitch_range_deg"):
        CheckRules(pitch_range_deg=(10.0, -10.0))
    with pytest.raises(ValueError, match="min_face_px"):
        CheckRules(min_face_px=float("nan"))
    m = check_image(clean[0]).measures
    assert "small" in {w.code for w in judge(m, CheckRules(min_face_px=m["face_px"] + 1))}


def test_cli_exit_codes(tmp_path):
    def cli(*paths):
        return subprocess.run([sys.executable, "-m", "mimicam.tools.cli", "check", *map(str, paths)],
                              capture_output=True, text=True, timeout=300)

    report = tmp_path / "check.json"
    good = cli(need(PORTRAITS / "lp_s2_man_bw_photo.jpg"), "--json", report)
    assert good.returncode == 0 and "portrait looks good" in good.stdout and not good.stderr.strip()
    doc = json.loads(report.read_text())
    assert doc["schema"] == "mimicam.check/1" and doc["portraits"][0]["ok"] is True
    assert doc["portraits"][0]["warnings"] == [] and doc["portraits"][0]["measures"]["face_px"] > 400
    bad = cli(need(PORTRAITS / "avatarify_obama.jpg"))
    assert bad.returncode == 1 and "warning: the picture ends at the chin: use a photo that shows" in bad.stdout
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 128, np.uint8))
    none = cli(wall)
    assert none.returncode == 2 and none.stderr.startswith("mimicam check: error: no face found in")


def test_readme_lists_the_rules_the_check_enforces():
    """README "Pick a good portrait" must say the same limits as CheckRules."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Pick a good portrait", 1)[1].split("\n## ", 1)[0]
    r = CheckRules()
    for value in (r.min_face_px, r.max_yaw_deg, *r.pitch_range_deg, r.max_roll_deg, r.max_mouth_gap,
                  r.max_jaw_open, r.max_teeth, r.min_eye_open, r.min_room_above, r.min_room_below,
                  r.min_sharpness, r.max_side_light):
        assert f"{value:g}" in section, f"README does not give the limit {value:g}"
