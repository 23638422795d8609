"""Bad-input fuzzing of portraits (hypothesis): valid but unusual images are converted and work; corrupt,
truncated, empty, faceless or oversized ones get one clear line (InputError), never another exception.
The CLI turns each into a one-line error, a non-zero exit, no traceback and no partial output file."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from mimicam.realtime.errors import InputError, NoFaceError
from mimicam.realtime.imageio import MAX_SIDE, load_image
from mimicam.realtime.portrait import prepare_portrait
from mimicam.tools import cli

from shared_data import DRIVING, PORTRAITS, need

TRIED = {"valid": 0, "corrupt": 0}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _face(size=(160, 200)) -> Image.Image:
    img = cv2.imread(str(need(PORTRAITS / "avatarify_obama.jpg")))
    return Image.fromarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA)[:, :, ::-1])


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


MODES = ["L", "RGB", "RGBA", "LA", "P", "PA", "I;16", "I", "F", "CMYK", "1"]
FORMATS = {"PNG": ("L", "RGB", "RGBA", "LA", "P", "I;16", "1"), "JPEG": ("L", "RGB", "CMYK"),
           "WEBP": ("RGB", "RGBA"), "BMP": ("L", "RGB", "P", "1"), "TIFF": ("L", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "1"),
           "GIF": ("L", "P")}


@st.composite
def unusual_images(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    w, h = draw(st.integers(64, 257)), draw(st.integers(64, 257))
    orientation = draw(st.sampled_from([1, 3, 6, 8])) if fmt in ("JPEG", "PNG", "WEBP") else 1  # TIFF: see report
    frames = draw(st.integers(1, 3)) if fmt in ("GIF", "PNG", "WEBP") else 1
    return fmt, mode, w, h, orientation, frames


def _gray16(im: Image.Image) -> Image.Image:
    out = Image.fromarray((np.asarray(im.convert("L"), np.uint16) * 257).astype("<u2"))
    assert out.mode == "I;16"
    return out


def _encode(fmt, mode, w, h, orientation, frames) -> bytes:
    base = _face((w, h))
    if mode == "I;16":
        im = _gray16(base)
    elif mode in ("I", "F"):
        im = base.convert("L").convert(mode)
    else:
        im = base.convert(mode)
    kw: dict = {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    if frames > 1:
        kw.update(save_all=True, append_images=[im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)] * (frames - 1))
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@FUZZ
@given(unusual_images())
def test_valid_unusual_images_convert(tmp_path_factory, spec):
    fmt, mode, w, h, orientation, frames = spec
    path = tmp_path_factory.mktemp("img") / f"p.{fmt.lower()}"
    path.write_bytes(_encode(*spec))
    img = load_image(path)
    TRIED["valid"] += 1
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.flags.c_contiguous
    upright = (h, w) if orientation in (1, 3) else (w, h)  # 6 and 8 rotate by 90 degrees
    assert img.shape[:2] == upright


def test_unusual_real_portraits_still_find_the_face(tmp_path):
    """A CMYK JPEG, a 16-bit PNG and an EXIF-rotated JPEG of a real portrait all work end to end."""
    face = _face((360, 450))
    cmyk, gray16, rotated = tmp_path / "cmyk.jpg", tmp_path / "gray16.png", tmp_path / "rot.jpg"
    face.convert("CMYK").save(cmyk, "JPEG")
    _gray16(face).save(gray16)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; the viewer (and we) rotate it upright
    face.transpose(Image.Transpose.ROTATE_90).save(rotated, "JPEG", exif=exif.tobytes())
    for p in (cmyk, gray16, rotated):
        portrait = prepare_portrait(p, 128)
        assert portrait.image.shape[:2] == (900, 720), p  # upright, aspect kept, scaled up to 720 px wide
        assert portrait.source_size == (360, 450), p


@pytest.fixture(scope="module")
def good_bytes() -> dict[str, bytes]:
    out = {}
    for fmt in ("PNG", "JPEG", "WEBP", "GIF"):
        buf = io.BytesIO()
        _face().save(buf, fmt)
        out[fmt] = buf.getvalue()
    return out


@FUZZ
@given(fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"]), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8), garbage=st.booleans())
def test_corrupt_images_are_one_line_input_errors(tmp_path_factory, good_bytes, fmt, cut, flips, garbage):
    data = bytearray(good_bytes[fmt])
    if garbage:
        data = bytearray(np.random.default_rng(len(flips)).integers(0, 256, 64 + int(cut * 4000), np.uint8))
    for pos, value in flips:
        data[int(pos * (len(data) - 1))] = value
    data = data[: int(len(data) * cut)] if cut < 0.98 else data
    path = tmp_path_factory.mktemp("bad") / f"p.{fmt.lower()}"
    path.write_bytes(bytes(data))
    TRIED["corrupt"] += 1
    try:
        img = load_image(path)
    except InputError as exc:
        assert str(path) in _one_line(exc)
    else:  # a harmless flip may leave a decodable image: it must still be a proper frame
        assert img.dtype == np.uint8 and img.shape[2] == 3


def _png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG that claims w x h (only its header and one tiny IDAT): must be refused before decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("w,h,words", [(MAX_SIDE + 1, 100, "beyond the limit"), (13000, 13000, "beyond the limit"),
                                       (11000, 11000, "beyond the limit"), (40, 40, "only 40x40")])
def test_size_limits(tmp_path, w, h, words):
    with pytest.raises(InputError) as err:
        load_image(_png_header_only(tmp_path / "big.png", w, h))
    assert words in _one_line(err.value)


def test_empty_missing_and_faceless(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for path, words in ((tmp_path / "empty.png", "empty file"), (tmp_path / "nope.png", "does not exist")):
        with pytest.raises(InputError) as err:
            load_image(path)
        assert words in _one_line(err.value)
    noise = tmp_path / "noise.png"
    cv2.imwrite(str(noise), np.random.default_rng(0).integers(0, 256, (300, 300, 3), np.uint8))
    with pytest.raises(NoFaceError) as err:
        prepare_portrait(noise, 128)
    assert "noise.png" in _one_line(err.value)


def _bad_inputs(tmp: Path, good_video: Path) -> dict[str, tuple[Path, Path]]:
    portrait = need(PORTRAITS / "avatarify_obama.jpg")
    trunc = tmp / "trunc.jpg"
    trunc.write_bytes(portrait.read_bytes()[:3000])
    (tmp / "empty.jpg").write_bytes(b"")
    cv2.imwrite(str(tmp / "blank.png"), np.full((256, 256, 3), 200, np.uint8))
    (tmp / "video.mp4").write_bytes(good_video.read_bytes()[:2000])
    (tmp / "empty.mp4").write_bytes(b"")
    return {"truncated portrait": (trunc, good_video), "empty portrait": (tmp / "empty.jpg", good_video),
            "faceless portrait": (tmp / "blank.png", good_video),
            "huge portrait": (_png_header_only(tmp / "huge.png", 20000, 20000), good_video),
            "truncated video": (portrait, tmp / "video.mp4"), "empty video": (portrait, tmp / "empty.mp4"),
            "missing video": (portrait, tmp / "missing.mp4")}


def test_cli_render_bad_inputs_in_process(tmp_path, capsys):
    good_video = need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name, (portrait, video) in _bad_inputs(tmp_path, good_video).items():
        out = out_dir / "o.mp4"
        rc = cli.main(["render", "--source", str(portrait), "--driving", str(video), "--out", str(out)])
        err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ": warning: " not in ln]  # portrait check
        assert rc != 0, name
        assert len(err) == 1 and err[0].startswith("mimicam render: error:"), (name, err)
        assert list(out_dir.iterdir()) == [], f"{name}: left {list(out_dir.iterdir())}"


def test_cli_render_bad_input_subprocess_no_traceback(tmp_path):
    out = tmp_path / "o.mp4"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    proc = subprocess.run([sys.executable, "-m", "mimicam.tools.cli", "render", "--source", str(bad), "--driving",
                           str(need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4")), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("mimicam")]
    assert len(lines) == 1 and "bad.png" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_report_cases_tried():
    """Runs last in this module: the fuzzers above really tried their cases."""
    assert TRIED["valid"] >= 50 and TRIED["corrupt"] >= 50, TRIED
    print(f"\nfuzz cases tried: {TRIED}")
