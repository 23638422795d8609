"""soak's command line: a short run picks a valid warm-up instead of failing (issue 15)."""
from __future__ import annotations

import pytest

from mimicam.tools import soak


def test_default_warmup_fits_the_run():
    assert soak.default_warmup(10000) == 500 and soak.default_warmup(2500) == 500
    assert soak.default_warmup(300) == 60 and soak.default_warmup(3) == 1


def test_short_soak_runs_with_a_picked_warmup(capsys):
    rc = soak.main(["--frames", "20", "--every", "5", "--backend", "ort"])
    out = capsys.readouterr().out
    assert rc in (0, 1) and "frames 20 " in out and "RSS after 4-frame warm-up" in out
    assert out.strip().splitlines()[-1] in ("soak: PASS", "soak: FAIL")


def test_an_explicit_warmup_too_long_is_still_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        soak.main(["--frames", "300", "--warmup", "500"])
    assert exc.value.code == 2 and "--frames must be larger than --warmup" in capsys.readouterr().err
