"""The compositor samples the full-resolution portrait with the generator's flow (closed form), pastes the
generated crop only where the generator paints, and keeps the old paste of the crop for learned weights."""
import cv2
import numpy as np
import pytest
import torch

from mimicam.engines.config import get_config
from mimicam.engines.model import build_modules
from mimicam.realtime.compose import Compositor, _grid
from mimicam.realtime.portrait import prepare_portrait
from shared_data import PORTRAITS, need

CFG = get_config("lite")


@pytest.fixture(scope="module")
def portrait():
    return prepare_portrait(need(PORTRAITS / "skimage_astronaut_eileen_collins.png"), CFG.image_size,
                            size=(1280, 720))


@pytest.fixture(scope="module")
def generate(portrait):
    """(dx, dy) head shift in canvas pixels -> the closed-form generator's four outputs, the portrait's own
    expression (a neutral driver) otherwise."""
    enc, gen = build_modules(CFG, learned=False)
    kp, jac = portrait.motion.kp[None], portrait.motion.jac[None]
    with torch.no_grad():
        cache = enc(torch.from_numpy(portrait.crop), torch.from_numpy(kp), torch.from_numpy(jac))

    def run(dx: float = 0.0, dy: float = 0.0):
        kd = kp.copy()
        kd[..., 0] += dx / (portrait.box.side / 2)
        kd[..., 1] += dy / (portrait.box.side / 2)
        with torch.no_grad():
            return [t.numpy() for t in gen(*cache, torch.from_numpy(kd), torch.from_numpy(jac))]

    return run


def _face_box(p, dx: float = 0.0, dy: float = 0.0) -> tuple[int, int, int, int]:
    xy = p.landmarks.xy
    return (int(xy[:, 0].min() + dx), int(xy[:, 1].min() + dy), int(xy[:, 0].max() + dx), int(xy[:, 1].max() + dy))


def _laplacian_var(bgr: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(cv2.Laplacian(cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def _outputs(p, flow: np.ndarray, mask: float = 1.0, paint: float = 0.0):
    s = CFG.image_size
    image = np.full((1, 3, s, s), 0.5, np.float32)
    return (image, np.full((1, 1, s, s), mask, np.float32), flow[None].astype(np.float32),
            np.full((1, 1, s, s), paint, np.float32))


def test_a_still_flow_gives_back_the_portrait_exactly(portrait):
    """Pasted everywhere (mask 1), the identity flow samples every pixel where it is."""
    with Compositor(portrait, CFG.motion_size) as comp:
        out = comp.paste(*_outputs(portrait, _grid(CFG.motion_size)))
        assert np.array_equal(out, comp._clean)


def test_a_whole_pixel_shift_moves_the_full_resolution_pixels(portrait):
    """A flow that samples 3 canvas pixels to the left and 2 up: the output is the portrait shifted, pixel for
    pixel (no 256-px crop in between)."""
    flow = _grid(CFG.motion_size).copy()
    flow[..., 0] -= 3 / (portrait.box.side / 2)
    flow[..., 1] -= 2 / (portrait.box.side / 2)
    with Compositor(portrait, CFG.motion_size) as comp:
        out = comp.paste(*_outputs(portrait, flow)).copy()
    x0, y0, x1, y1 = _face_box(portrait)
    got = out[y0:y1, x0:x1].astype(int)
    want = portrait.image[y0 - 2:y1 - 2, x0 - 3:x1 - 3].astype(int)
    assert np.abs(got - want).max() <= 1


def _painted_outputs(paint: np.ndarray, colour: float = 0.5):
    """The closed form's contract (``FirstOrderPrior.paint_layer``) under the identity flow: image is the paint
    premultiplied by its alpha."""
    s = CFG.image_size
    a = paint[None, None].astype(np.float32)
    return np.repeat(a * colour, 3, axis=1), np.ones((1, 1, s, s), np.float32), _grid(CFG.motion_size)[None], a


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_paint_is_laid_over_the_full_resolution_warp_with_its_own_alpha(portrait, alpha):
    """The paint is laid over the full-resolution warp at its alpha (a half-closed lid is not weighed by alpha^2,
    a full one is the colour itself); what shows through is the portrait, not a 256-px crop resampled."""
    s = CFG.image_size
    with Compositor(portrait, CFG.motion_size) as comp:
        out = comp.paste(*_painted_outputs(np.full((s, s), alpha, np.float32))).astype(float)
    x0, y0, x1, y1 = _face_box(portrait)
    want = (1.0 - alpha) * portrait.image[y0:y1, x0:x1].astype(float) + alpha * 127.5
    assert np.abs(out[y0:y1, x0:x1] - want).max() <= 2.0


def test_the_skin_around_a_painted_mouth_keeps_the_portraits_detail(portrait):
    """A painted disc: outside the paint the output is the portrait pixel for pixel (sharp lips and skin, not
    the crop), inside it the colour."""
    s = CFG.image_size
    yy, xx = np.mgrid[:s, :s]
    disc = np.clip(12.0 - np.hypot(yy - 0.7 * s, xx - 0.5 * s), 0.0, 1.0).astype(np.float32)
    with Compositor(portrait, CFG.motion_size) as comp:
        out = comp.paste(*_painted_outputs(disc, colour=0.0)).copy()
    b = portrait.box
    cy, cx, r = b.y0 + 0.7 * b.side, b.x0 + 0.5 * b.side, 12.0 * b.side / s
    yo, xo = np.mgrid[:out.shape[0], :out.shape[1]]
    d = np.hypot(yo - cy, xo - cx)
    assert np.array_equal(out[d > r + 2 * b.side / s], portrait.image[:out.shape[0], :out.shape[1]][d > r + 2 * b.side / s])
    # inside: the colour, once the 12-px disc's 1-px ramp, the bilinear upsampling (1 crop pixel) and the box's
    # whole-pixel placement (0.5 canvas pixel) are left behind
    assert out[d < r - 3 * b.side / s].max() <= 2


def test_without_a_flow_size_the_crop_is_pasted_as_before(portrait, generate):
    """Learned weights: their residual is in the generated crop, so it is what is pasted."""
    outputs = generate(2.5, 1.2)
    with Compositor(portrait) as comp:
        a = comp.paste(*outputs).copy()
        b = comp.paste(*outputs[:2]).copy()
    assert np.array_equal(a, b)


@pytest.mark.parametrize("shift", [(2.5, 1.25), (5.7, 2.85)])
def test_a_neutral_drivers_face_keeps_the_portraits_detail(portrait, generate, shift):
    """A neutral driver whose head drifts a few (fractional) pixels: the whole face is pasted (it moved), and
    it keeps the portrait's detail: the face box's Laplacian variance is >= 0.8x the portrait's. The old paste
    of the 256-px crop, resized to the 366-px box, keeps 0.30-0.36x of it."""
    outputs = generate(*shift)
    box = _face_box(portrait, *shift)
    ref = _laplacian_var(portrait.image, _face_box(portrait))
    with Compositor(portrait, CFG.motion_size) as sharp, Compositor(portrait) as old:
        assert float(outputs[1][0, 0, 128, 128]) > 0.95  # the face moved: it is pasted
        got = _laplacian_var(sharp.paste(*outputs), box) / ref
        before = _laplacian_var(old.paste(*outputs[:2]), box) / ref
    assert got >= 0.8, f"face detail {got:.2f}x the portrait's"
    assert before < 0.5 * got  # what this replaced


def test_the_paste_fades_out_at_the_box_edges():
    """A paste whose mask reaches the crop box's edge (a neck stretched by a nod) ends in a soft fade,
    never a straight cut along the box."""
    from mimicam.realtime.compose import edge_fade

    e = edge_fade(200, 0.08)
    assert e.shape == (200, 200) and e.dtype == np.float32
    assert e[100, 100] == 1.0 and e[0].max() < 0.01 and e[:, -1].max() < 0.01
    col = e[:, 100]
    assert np.all(np.diff(col[:17]) > 0) and np.all(col[16:184] == 1.0)  # 16 px ramps, flat inside
