"""The content signature's search for black bars (binding._content_in_eighth) on real frames."""
from __future__ import annotations

import numpy as np
import pytest

from mimicam.realtime.provenance import binding as B
from provenance_data import read_frames


def _reference(small: np.ndarray) -> tuple[int, int, int, int]:
    """Line by line: a line is a bar when its median is dark and its median deviation flat; at most
    BAR_MOST of each side is cut."""
    def side(lines):
        n = lines.shape[0]
        bar = [np.median(x) < B.BAR_DARK and np.median(np.abs(x - np.median(x))) < B.BAR_FLAT for x in lines]
        top = next((i for i, b in enumerate(bar) if not b), n)
        bottom = next((n - i for i, b in enumerate(reversed(bar)) if not b), 0)
        if top == n:
            return 0, n
        return min(top, int(n * B.BAR_MOST)), max(bottom, n - int(n * B.BAR_MOST))
    return (*side(small), *side(small.T))


@pytest.mark.parametrize("bars", ["none", "top", "bottom", "left", "right", "letterbox", "pillarbox", "all dark"])
def test_bar_search_matches_line_by_line(bars):
    gray = read_frames("lp_d9_man_glasses_webcam.mp4", 1)[0][..., 1].copy()
    h, w = gray.shape
    cut = {"top": (slice(0, h // 5), slice(None)), "bottom": (slice(h - h // 4, h), slice(None)),
           "left": (slice(None), slice(0, w // 6)), "right": (slice(None), slice(w - w // 3, w))}
    if bars in cut:
        gray[cut[bars]] = 10
    elif bars == "letterbox":
        gray[: h // 8] = gray[h - h // 8:] = 0
    elif bars == "pillarbox":
        gray[:, : w // 7] = gray[:, w - w // 7:] = 16
    elif bars == "all dark":
        gray[:] = 5
    small = B._eighth(gray)
    found = B._content_in_eighth(small)
    assert found == _reference(small)
    if bars == "none":
        assert found == (0, small.shape[0], 0, small.shape[1])
    elif bars in cut:
        assert found != (0, small.shape[0], 0, small.shape[1])
