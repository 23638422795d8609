import numpy as np
import pytest
import torch

from mimicam.engines.config import get_config
from mimicam.engines.export import example_inputs, export_onnx
from mimicam.engines.layout import KP_INDEX
from mimicam.engines.model import build_modules
from mimicam.engines.prior import inv2x2, make_grid
from mimicam.engines.runtime_ort import OrtBackend
from mimicam.engines.runtime_torch import TorchBackend


def _run(cfg, src, kp_s, jac_s, kp_d, jac_d):
    enc, gen = build_modules(cfg)
    with torch.no_grad():
        cache = enc(*(torch.from_numpy(a) for a in (src, kp_s, jac_s)))
        return [t.numpy() for t in gen(*cache, torch.from_numpy(kp_d), torch.from_numpy(jac_d))]


def test_inv2x2_matches_numpy():
    m = torch.tensor([[[2.0, 1.0], [0.5, 3.0]], [[0.3, -0.2], [0.1, 0.9]]])
    np.testing.assert_allclose(inv2x2(m).numpy(), np.linalg.inv(m.numpy()), rtol=1e-5)


def test_identity_motion_reproduces_the_portrait():
    cfg = get_config("lite")
    f = example_inputs(cfg)
    image, mask, flow, paint = _run(cfg, f["source"], f["kp_source_in"], f["jac_source_in"], f["kp_source_in"],
                                    f["jac_source_in"])
    assert np.abs(image - f["source"]).max() < 1e-4
    assert np.abs(flow - make_grid(cfg.motion_size).numpy()).max() < 1e-5  # the flow is the identity grid
    assert flow.shape == (1, cfg.motion_size, cfg.motion_size, 2) and paint.max() < 1e-3  # nothing painted


def test_translation_moves_the_head_and_not_the_background():
    cfg = get_config("lite")
    f = example_inputs(cfg)
    import cv2

    smooth = cv2.resize(np.random.default_rng(0).random((32, 32, 3), dtype=np.float32), (256, 256),
                        interpolation=cv2.INTER_CUBIC).clip(0, 1).transpose(2, 0, 1)[None].copy()
    f["source"] = smooth
    shift = np.array([0.1, 0.0], np.float32)  # 0.1 of the half crop = 12.8 px at 256
    image, mask, *_ = _run(cfg, f["source"], f["kp_source_in"], f["jac_source_in"], f["kp_source_in"] + shift,
                       f["jac_source_in"])
    s = cfg.image_size
    c = s // 2
    # face centre: the output equals the source shifted right by 12.8 px
    ref = f["source"][0, :, c - 10:c + 10, c - 10 - 13:c + 10 - 13]
    got = image[0, :, c - 10:c + 10, c - 10:c + 10]
    assert np.abs(got - ref).mean() < 0.02
    assert np.abs(got - f["source"][0, :, c - 10:c + 10, c - 10:c + 10]).mean() > 0.05
    # corners: background untouched, outside the paste mask
    assert np.abs(image[0, :, :8, :8] - f["source"][0, :, :8, :8]).max() < 1e-4
    assert mask[0, 0, :8, :8].max() < 0.05 and mask[0, 0, c, c] > 0.95


def test_opening_the_mouth_fills_the_interior_dark_not_stretched_lips():
    cfg = get_config("lite")
    f = example_inputs(cfg)
    src = np.full_like(f["source"], 0.8)  # a light, uniform portrait: lips and skin alike
    lo, up = KP_INDEX["lower_inner_lip"], KP_INDEX["upper_inner_lip"]
    # a closed mouth (the template's mean mouth is half open: it would count as showing its own interior)
    f["kp_source_in"][0, lo, 1] = f["kp_source_in"][0, up, 1] + 0.005
    kp_d = f["kp_source_in"].copy()
    kp_d[0, lo, 1] += 0.08  # the driver drops the jaw
    image = _run(cfg, src, f["kp_source_in"], f["jac_source_in"], kp_d, f["jac_source_in"])[0]
    mid = (kp_d[0, lo] + kp_d[0, up]) / 2
    x, y = ((mid + 1) / 2 * cfg.image_size).astype(int)
    assert image[0, :, y, x].mean() < 0.5  # the new mouth interior is dark ...
    image0 = _run(cfg, src, f["kp_source_in"], f["jac_source_in"], f["kp_source_in"], f["jac_source_in"])[0]
    assert image0[0, :, y, x].mean() > 0.75  # ... where the closed mouth was light


@pytest.mark.parametrize("config", ["lite", "vox256"])
def test_onnx_runtime_matches_torch(config):
    cfg = get_config(config)
    export_onnx(cfg)
    f = example_inputs(cfg, seed=3)
    outs = []
    for cls in (OrtBackend, TorchBackend):
        with cls(cfg) as b:
            b.set_source(f["source"], f["kp_source_in"], f["jac_source_in"])
            got = b.generate(f["kp_driving"], f["jac_driving"])
            assert [a.shape for a in got] == [t.shape for t in b.generator_spec.outputs]
            outs.append([a.copy() for a in got])
    for name, a, b in zip(("image", "mask", "flow", "paint"), *outs):
        assert np.abs(a - b).max() <= 1e-4, name


def test_export_records_parity_within_1e4():
    import json

    from mimicam.engines.export import PARITY_ATOL

    enc, _ = export_onnx(get_config("lite"))
    parity = json.loads((enc.parent / "export.json").read_text())["parity_max_abs_diff"]
    assert set(parity) == {"source_encoder", "frame_generator"} and max(parity.values()) <= PARITY_ATOL


def test_onnx_graph_rules():
    import onnx

    enc, gen = export_onnx(get_config("lite"))
    for path in (enc, gen):
        m = onnx.load(str(path))
        assert m.opset_import[0].version >= 17
        ops = {n.op_type for n in m.graph.node}
        assert "Inverse" not in ops
        for n in m.graph.node:
            if n.op_type == "GridSample":
                assert all(len(i.type.tensor_type.shape.dim) in (0, 4) for i in m.graph.input if i.name in n.input)


def _right_eye(cfg):
    """The example inputs and the portrait's right eye: (inputs, crop side, lid keypoint indices, its centre
    pixel (cx, cy), the lid keypoints' gap)."""
    f = example_inputs(cfg)
    s = cfg.image_size
    up, lo = KP_INDEX["r_upper_lid"], KP_INDEX["r_lower_lid"]
    kp_s = f["kp_source_in"]
    cx, cy = (((kp_s[0, up] + kp_s[0, lo]) / 2 + 1) / 2 * s).astype(int)
    return f, s, (up, lo), (cx, cy), kp_s[0, lo] - kp_s[0, up]


def test_closing_the_eye_brings_the_lid_down_over_it():
    cfg = get_config("lite")
    f, s, (up, lo), (cx, cy), gap = _right_eye(cfg)
    kp_s = f["kp_source_in"]
    src = np.full_like(f["source"], 0.8)  # light skin ...
    src[0, :, cy - 1:cy + 2, cx - 8:cx + 9] = 0.1  # ... and a dark open eye (the template's opening)
    kp_d = kp_s.copy()
    kp_d[0, up] += 0.45 * gap  # the driver closes the eye: the lid keypoints close about half their gap
    kp_d[0, lo] -= 0.1 * gap
    closed, mask, *_ = _run(cfg, src, kp_s, f["jac_source_in"], kp_d, f["jac_source_in"])
    opened = _run(cfg, src, kp_s, f["jac_source_in"], kp_s, f["jac_source_in"])[0]
    assert opened[0, :, cy, cx].mean() < 0.2  # the portrait's eye, open
    assert closed[0, :, cy, cx].mean() > 0.5  # covered by the lid (skin)
    assert mask[0, 0, cy, cx] > 0.9  # and pasted
    other = KP_INDEX["l_upper_lid"]
    ox, oy = (((kp_s[0, other] + kp_s[0, KP_INDEX["l_lower_lid"]]) / 2 + 1) / 2 * s).astype(int)
    assert abs(float(closed[0, :, oy, ox].mean()) - float(opened[0, :, oy, ox].mean())) < 0.05  # other eye untouched


def test_a_closed_lid_is_opaque_skin_from_above_the_eye():
    """Fully closed (the driver's lids meet), nothing of the eye shows through, and the lid carries the
    portrait's own skin from above the eye (its texture: here vertical stripes), not a flat or grey wash."""
    cfg = get_config("lite")
    f, s, (up, lo), (cx, cy), gap = _right_eye(cfg)
    kp_s = f["kp_source_in"]
    src = np.full_like(f["source"], 0.8)
    top = int(cy - gap[1] / 2 * s * 2.0)  # the skin above the eye: stripes four pixels wide
    stripes = np.where((np.arange(s) // 4) % 2 == 0, 0.65, 0.95).astype(np.float32)
    src[0, :, top - 12:cy - 1] = stripes[None, None, :]
    src[0, :, cy - 2:cy + 3, cx - 8:cx + 9] = 0.05  # the open eye, dark
    kp_d = kp_s.copy()
    kp_d[0, up] += 0.5 * gap  # the driver's lids meet
    kp_d[0, lo] -= 0.5 * gap
    closed = _run(cfg, src, kp_s, f["jac_source_in"], kp_d, f["jac_source_in"])[0]
    eye = closed[0, :, cy - 2:cy + 3, cx - 6:cx + 7].mean(0)
    # the eye is 0.05, the skin 0.65-0.95 (a lash line may darken it a little): half see-through would be ~0.45
    assert eye.min() > 0.3 and eye.mean() > 0.6, f"the eye shows through: darkest {eye.min():.2f}, mean {eye.mean():.2f}"
    row = closed[0, :, cy - 1, cx - 6:cx + 7].mean(0)
    assert np.corrcoef(row, stripes[cx - 6:cx + 7])[0, 1] > 0.5  # the stripes of the skin above, slid down


def test_the_closed_form_graph_gives_the_paint_that_forward_lays_over_its_warp():
    """``paint_layer`` (what the exported closed form returns) and ``forward`` agree: forward's image is the
    256-px warp with the premultiplied paint over it, on a driver who opens the mouth and closes an eye."""
    from mimicam.engines.prior import FirstOrderPrior

    cfg = get_config("lite")
    f = example_inputs(cfg)
    rng = np.random.default_rng(3)
    src = rng.uniform(0.2, 0.9, f["source"].shape).astype(np.float32)
    kp_s, jac_s = f["kp_source_in"], f["jac_source_in"]
    kp_d = kp_s.copy()
    ui, li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
    kp_d[0, li, 1] += 0.08  # the mouth opens
    up, lo = KP_INDEX["r_upper_lid"], KP_INDEX["r_lower_lid"]
    kp_d[0, up] += 0.45 * (kp_s[0, lo] - kp_s[0, up])  # an eye closes
    prior = FirstOrderPrior(cfg).eval()
    t = [torch.from_numpy(a) for a in (src, kp_s, jac_s, kp_d, jac_s)]
    mouth = torch.full((1, 3, 1, 2), 0.2)
    with torch.no_grad():
        image, mask, flow, paint = prior(t[0], mouth, *t[1:])
        premult, mask2, flow2, alpha = prior.paint_layer(t[0], mouth, *t[1:])
        warp = prior.warp(t[0], flow)
    assert float(alpha.max()) > 0.9  # something was painted
    np.testing.assert_allclose(((1 - alpha) * warp + premult).clamp(0, 1).numpy(), image.numpy(), atol=1e-5)
    np.testing.assert_allclose(flow2.numpy(), flow.numpy(), atol=1e-6)
    np.testing.assert_allclose(mask2.numpy(), mask.numpy(), atol=1e-5)


def test_lids_of_a_training_batch_match_one_frame_at_a_time():
    """Training runs batches (grid_sample); the exported graph one frame (one gather): the same lids."""
    from mimicam.engines.prior import FirstOrderPrior

    cfg = get_config("lite")
    f = example_inputs(cfg)
    prior = FirstOrderPrior(cfg).eval()
    kp_s, jac_s = f["kp_source_in"], f["jac_source_in"]
    kp_d = kp_s.copy()
    up, lo = KP_INDEX["r_upper_lid"], KP_INDEX["r_lower_lid"]
    kp_d[0, up] += 0.45 * (kp_s[0, lo] - kp_s[0, up])
    src = np.random.default_rng(5).uniform(0, 1, f["source"].shape).astype(np.float32)
    one = [torch.from_numpy(a) for a in (src, kp_s, jac_s, kp_d, jac_s)]
    two = [torch.cat([t, t]) for t in one]
    with torch.no_grad():
        fill1, colour1 = prior.eyelids(*one)
        fill2, colour2 = prior.eyelids(*two)
    assert float(fill1.max()) > 0.5
    for a, b in ((fill1, fill2), (colour1, colour2)):
        np.testing.assert_allclose(b[1:].numpy(), a.numpy(), atol=1e-5)


def test_affine_field_is_the_affine_function_on_the_grid():
    """The separable form (a row plus a column) gives x0 + ax (x - cx) + ay (y - cy) at every grid pixel, per
    batch item and keypoint."""
    from mimicam.engines.prior import affine_field, make_line

    g = make_grid(7)[0]  # (7, 7, 2): x along the columns, y along the rows
    line = make_line(7)
    rng = np.random.default_rng(1)
    x0, ax, ay, cx, cy = (torch.from_numpy(rng.normal(size=(2, 3)).astype(np.float32)) for _ in range(5))
    field = affine_field(x0, ax, ay, line - cx[..., None], line - cy[..., None])
    assert field.shape == (2, 3, 7, 7)
    want = (x0[..., None, None] + ax[..., None, None] * (g[..., 0] - cx[..., None, None])
            + ay[..., None, None] * (g[..., 1] - cy[..., None, None]))
    np.testing.assert_allclose(field.numpy(), want.numpy(), atol=1e-6)


def test_place_windows_puts_each_window_at_its_pixel_offset():
    """Windows whose edges are zero (the fade) land at their first pixel, zero elsewhere; the exported graph's
    one-frame path (row gathers of the transposed window) and the training batch path agree."""
    from mimicam.engines.prior import place_windows, window_fade

    rng = np.random.default_rng(3)
    side, grid = 6, 17
    fields = torch.from_numpy(rng.normal(size=(2, 3, 2, side, side)).astype(np.float32)) * window_fade(side)
    first = torch.tensor([[[0.0, 11.0], [7.0, 3.0]], [[11.0, 0.0], [2.0, 9.0]]])  # (B, N, 2): x then y
    want = np.zeros((2, 3, grid, grid), np.float32)
    for b in range(2):
        for k in range(2):
            x, y = (int(v) for v in first[b, k])
            want[b, :, y:y + side, x:x + side] += fields[b, :, k].numpy()
    np.testing.assert_allclose(place_windows(fields, first, grid).numpy(), want, atol=1e-6)
    for b in range(2):
        np.testing.assert_allclose(place_windows(fields[b:b + 1], first[b:b + 1], grid).numpy(), want[b:b + 1],
                                   atol=1e-6)


@pytest.mark.parametrize("face", ["normal", "small"])
def test_windowed_mouth_and_lids_equal_the_whole_grid(face):
    """The mouth and the lids are computed on windows around the driven mouth and eyes: the paint is the one the
    whole grid gives, on a face of the example's size and on a small one."""
    from mimicam.engines.prior import FirstOrderPrior, grid_window, window_fade

    cfg = get_config("lite")
    f = example_inputs(cfg)
    kp_s, jac_s = f["kp_source_in"].copy(), f["jac_source_in"].copy()
    if face == "small":  # the face at 0.4 of its size: the eyes 0.4 as far apart
        kp_s, jac_s = 0.4 * kp_s, 0.4 * jac_s
    kp_d = kp_s.copy()
    li = KP_INDEX["lower_inner_lip"]
    kp_d[0, li, 1] += 0.2 * float(np.sqrt(abs(np.linalg.det(jac_s[0, 0]))))  # the mouth opens wide
    for up, lo in (("r_upper_lid", "r_lower_lid"), ("l_upper_lid", "l_lower_lid")):
        u, low = KP_INDEX[up], KP_INDEX[lo]
        kp_d[0, u] += 0.6 * (kp_s[0, low] - kp_s[0, u])  # both eyes close
    src = torch.from_numpy(f["source"])
    mouth = torch.tensor([[[[0.2, 0.8]], [[0.1, 0.8]], [[0.1, 0.75]]]])
    t = [torch.from_numpy(a) for a in (kp_s, jac_s, kp_d, jac_s)]
    windowed = FirstOrderPrior(cfg).eval()
    whole = FirstOrderPrior(cfg).eval()
    whole.mouth_side, whole.lid_side = whole.mouth_grid, whole.lid_grid
    whole.mouth_fade, whole.lid_fade = torch.ones(whole.mouth_grid, whole.mouth_grid), torch.ones(whole.lid_grid,
                                                                                                  whole.lid_grid)
    with torch.no_grad():
        got, want = windowed.paint(src, mouth, *t), whole.paint(src, mouth, *t)
    assert float(want[1].max()) > 0.5  # painted: the mouth and the lids
    eyes = 0.5 * (t[2][:, windowed.i_upper] + t[2][:, windowed.i_lower])  # driven eye centres (1, 2, 2)
    first, _ = grid_window(eyes, windowed.lid_grid, windowed.lid_side)
    apart = abs(float(first[0, 0, 0] - first[0, 1, 0]))
    assert apart < windowed.lid_side  # the two eye windows overlap (they do on most faces): both add up right
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)
    assert window_fade(8)[0].max() == 0 and window_fade(8)[4, 4] == 1


def test_warp_of_a_training_batch_is_each_item_warped_by_its_own_flow():
    """Training warps batches: every item by its own flow (04e1839 and before warped the whole batch as its first
    item, one image broadcast over the batch); the exported graph's one-frame gather gives the same numbers."""
    from mimicam.engines.prior import FirstOrderPrior

    prior = FirstOrderPrior(get_config("lite"))
    image = torch.from_numpy(np.random.default_rng(2).random((2, 3, 256, 256), dtype=np.float32))
    flow = prior.grid_m.expand(2, -1, -1, -1).clone()
    flow[1] += 0.1
    out = prior.warp(image, flow)
    assert out.shape == image.shape
    for i in range(2):
        np.testing.assert_allclose(out[i:i + 1].numpy(), prior.warp(image[i:i + 1], flow[i:i + 1]).numpy(), atol=1e-5)
    assert float((out[1] - image[1]).abs().mean()) > 0.05 and float((out[0] - image[0]).abs().max()) < 1e-5
