"""The output-size policy on real portraits: fitted onto the canvas without distortion, aspect kept,
padded with the portrait's own blurred surroundings, and every emitted frame badged and marked at
every size (odd and even portraits, tiny and huge)."""
import cv2
import numpy as np
import pytest

from mimicam.realtime.canvas import (DEFAULT_SIZE, MAX_RENDER_SIDE, MIN_RENDER_SHORT, fit_to_canvas, parse_size,
                                     render_size)
from mimicam.realtime.errors import InputError
from mimicam.realtime.pipeline import Pipeline, PipelineOptions
from mimicam.realtime.portrait import prepare_portrait
from mimicam.realtime.provenance.check import verify_stream
from mimicam.realtime.provenance.keys import load_or_create_key

from reliability_fakes import has_badge
from shared_data import DRIVING, PORTRAITS, need


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.imread(str(need(PORTRAITS / "skimage_astronaut_eileen_collins.png")))


def _resized(image: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if w < image.shape[1] else cv2.INTER_CUBIC)


@pytest.mark.parametrize("src_size, canvas", [
    ((512, 512), (1280, 720)),     # square onto landscape: padded left and right
    ((129, 97), (1280, 720)),      # tiny and odd: enlarged
    ((333, 601), (640, 360)),      # odd portrait-shaped onto a small canvas
    ((6000, 4000), (1280, 720)),   # huge: reduced
    ((1281, 721), (1280, 720)),    # the canvas size up to an odd row and column: cut, not resampled
])
def test_fit_keeps_aspect_and_does_not_distort(astronaut, src_size, canvas):
    image = _resized(astronaut, *src_size)
    out, pl = fit_to_canvas(image, canvas)
    assert out.shape == (canvas[1], canvas[0], 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    w, h = src_size
    # aspect kept: the placed size is the source scaled by one factor (to the pixel), and it touches two sides
    assert abs(pl.width - w * pl.scale) <= 1 and abs(pl.height - h * pl.scale) <= 1
    assert pl.width == canvas[0] or pl.height == canvas[1]
    assert pl.x == (canvas[0] - pl.width) // 2 and pl.y == (canvas[1] - pl.height) // 2
    placed = out[pl.y:pl.y + pl.height, pl.x:pl.x + pl.width].astype(np.float32)
    # the pixels there are the portrait scaled by that one factor (not stretched, shifted or cropped)
    uniform = cv2.resize(image, (pl.width, pl.height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    assert np.abs(placed - uniform).mean() < 4.0
    if pl.width < canvas[0]:  # and a stretch to the whole canvas would not match them
        stretched = cv2.resize(image, (canvas[0], pl.height), interpolation=cv2.INTER_LINEAR)
        stretched = stretched[:, pl.x:pl.x + pl.width].astype(np.float32)
        assert np.abs(placed - stretched).mean() > 3 * np.abs(placed - uniform).mean()


def test_exact_size_is_cut_not_resampled(astronaut):
    image = _resized(astronaut, 1281, 721)
    out, pl = fit_to_canvas(image, (1280, 720))
    assert pl.scale == 1.0 and np.array_equal(out, image[:720, :1280])


def test_padding_is_the_portraits_own_dimmed_surroundings(astronaut):
    out, pl = fit_to_canvas(astronaut, (1280, 720))
    left = out[:, : pl.x].astype(np.float32)
    assert pl.x > 200 and left.std() > 3  # not a flat colour
    # smooth (blurred): neighbouring pixels differ far less than in the portrait itself
    assert np.abs(np.diff(left, axis=1)).mean() < 0.2 * np.abs(np.diff(astronaut.astype(np.float32), axis=1)).mean()
    # dimmer than the portrait, and its colours: the mean colour follows the portrait's
    assert left.mean() < astronaut.mean()
    ratio = left.reshape(-1, 3).mean(0) / astronaut.reshape(-1, 3).mean(0)
    assert ratio.max() / ratio.min() < 1.5


def test_render_size_keeps_aspect_and_caps_huge_portraits():
    assert render_size(960, 1216) == (960, 1216)
    assert render_size(1023, 767) == (1022, 766)
    w, h = render_size(474, 600)  # small: scaled up so that the mark's tile repeats enough
    assert w >= MIN_RENDER_SHORT and abs(w / h - 474 / 600) < 0.01 and w % 2 == 0 and h % 2 == 0
    w, h = render_size(6000, 4000)
    assert max(w, h) <= MAX_RENDER_SIDE and w % 2 == 0 and h % 2 == 0 and abs(w / h - 1.5) < 0.01
    w, h = render_size(2436, 2660)
    assert h <= MAX_RENDER_SIDE and abs(w / h - 2436 / 2660) < 0.01


@pytest.mark.parametrize("text, want", [("1280x720", (1280, 720)), ("640X360", (640, 360))])
def test_parse_size(text, want):
    assert parse_size(text) == want


@pytest.mark.parametrize("text, match", [("1280", "WIDTHxHEIGHT"), ("axb", "WIDTHxHEIGHT"),
                                         ("1279x720", "odd.*1278x720"), ("32x32", "outside"),
                                         ("10000x720", "outside")])
def test_parse_size_rejects_with_advice(text, match):
    with pytest.raises(InputError, match=match):
        parse_size(text)


def test_cli_size_error_is_one_line(portrait_path, driving_clip, capsys):
    from mimicam.tools.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["live", "--source", str(portrait_path), "--video", str(driving_clip), "--size", "1279x720"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "odd side" in err and "1278x720" in err and "Traceback" not in err


def test_portrait_face_and_crop_are_in_canvas_pixels(astronaut):
    small = prepare_portrait(_resized(astronaut, 128, 128), 256, size=DEFAULT_SIZE)
    big = prepare_portrait(_resized(astronaut, 5000, 5000), 256, size=DEFAULT_SIZE)
    for p in (small, big):
        assert p.image.shape == (720, 1280, 3) and p.landmarks.image_size == (1280, 720)
        x0, y0, x1, y1 = p.landmarks.box()
        assert p.placement.x <= x0 < x1 <= p.placement.x + p.placement.width
    # the same face at the same place, whatever the portrait's own resolution
    assert np.abs(small.landmarks.xy - big.landmarks.xy).mean() < 6.0
    assert abs(small.box.side - big.box.side) < 0.1 * big.box.side  # a 128-px face is blurrier
    assert small.source_size == (128, 128) and big.source_size == (5000, 5000)


def _run(portrait, size, frames=30, watermark=True):
    outputs = []
    opts = PipelineOptions(portrait=portrait, driving=need(DRIVING / "lp_d9_man_glasses_webcam.mp4"),
                           output="null", backend="ort", realtime=False, max_frames=frames, detector=False,
                           size=size, watermark=watermark)
    with Pipeline(opts, on_output=lambda f: outputs.append((f.kind, f.image.copy()))) as pipe:
        pipe.run()
        out_size = pipe.size
    return out_size, outputs


@pytest.mark.parametrize("src_size, size, want", [
    ((129, 97), (640, 360), (640, 360)),     # tiny, odd portrait on a small canvas
    ((6000, 4000), None, (1920, 1280)),      # huge portrait, offline default: capped, aspect kept
    ((1023, 767), None, (1022, 766)),        # odd portrait, offline default: its own size, cut to even
    ((511, 383), None, (960, 720)),          # small portrait, offline default: scaled up to 720 px
    ((512, 512), (1280, 720), (1280, 720)),  # the live default canvas
])
def test_every_frame_badged_and_marked_at_every_size(tmp_path, astronaut, src_size, size, want):
    path = tmp_path / "portrait.png"
    cv2.imwrite(str(path), _resized(astronaut, *src_size))
    out_size, outputs = _run(path, size)
    assert out_size == want and len(outputs) == 30
    for kind, image in outputs:
        assert kind == "generated" and image.shape == (want[1], want[0], 3)
        assert has_badge(image)
    _, plain = _run(path, size, watermark=False)  # the same frames without the mark (offline is deterministic)
    keep = np.ones((want[1], want[0]), bool)
    keep[int(want[1] * 0.85):, : want[0] // 2] = False  # the badge corner
    for (_, marked), (_, clean) in zip(outputs, plain):
        rms = float(np.sqrt(((marked.astype(float) - clean)[keep] ** 2).mean()))
        assert 1.0 < rms < 3.0  # one mark of the embedder's strength (2.2 grey levels RMS), in every frame
    if min(want) >= 720:  # where verify can find the mark (small frames hold too few of its tiles)
        report = verify_stream(iter(img for _, img in outputs), load_or_create_key())
        assert report.marked and report.status == "valid", report
