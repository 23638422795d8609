"""Output integrity on the frames the pipeline emits (issue 10): nothing carries over between frames.

The mark and the badge are written into the compositor's reused buffer; before the fix every frame's
mark was added on top of all earlier ones outside the paste box. These runs go through the offline
pipeline (the code path of `mimicam render`), 1,000 frames of a still driver, odd and even sizes."""
import cv2
import numpy as np
import pytest

from mimicam.realtime.canvas import render_size
from mimicam.tools.integrity import measure

from shared_data import DRIVING, PORTRAITS, need


@pytest.fixture(scope="module")
def driver():
    return need(DRIVING / "lp_d10_woman_blink_talk.mp4")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(721, 901), (722, 900)], ids=["odd", "even"])
def test_still_driver_1000_frames_nothing_piles_up(tmp_path, driver, size):
    src = cv2.imread(str(need(PORTRAITS / "skimage_astronaut_eileen_collins.png")))
    path = tmp_path / f"portrait_{size[0]}x{size[1]}.png"
    cv2.imwrite(str(path), cv2.resize(src, size, interpolation=cv2.INTER_AREA))
    rep = measure(path, driver, still=1000)
    assert rep.frames == 1000 and rep.size == (size[0] - size[0] % 2, size[1] - size[1] % 2)
    assert rep.outer_pixels > 10_000  # the measure sees a real area outside the paste box
    # outside the paste box: the portrait plus this frame's mark only (mark alone: ~1.7 grey levels)
    assert rep.outer_diff_max <= 2.0, rep
    assert rep.outer_diff_max <= 1.25 * rep.outer_diff_first, rep
    assert abs(rep.outer_psnr_last - rep.outer_psnr_first) <= 0.5, rep
    assert rep.outer_psnr_last >= 40.0, rep
    # the badge alternates between a long and a short text: no trace of the long one is left
    assert rep.badge_residue_max == 0.0, rep
    # the mark is invisible everywhere, not only on average
    assert rep.mark_tile_psnr_min >= 34.0, rep
    assert rep.mark_psnr_mean >= 40.0, rep


def test_real_driver_shared_portrait(driver):
    """A moving driver and another shared portrait (CelebA, tests only; 427 x 594, rendered at 720 x 1000)."""
    path = need(PORTRAITS / "celeba_000014_black_woman.jpg")  # 426 x 594
    rep = measure(path, driver, frames=120)
    h, w = cv2.imread(str(path)).shape[:2]
    assert rep.frames == 120 and rep.size == render_size(w, h) and min(rep.size) == 720  # scaled up
    assert rep.outer_diff_max <= 2.0 and rep.badge_residue_max == 0.0, rep
    assert rep.mark_tile_psnr_min >= 34.0, rep
