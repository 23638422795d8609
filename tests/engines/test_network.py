"""The learned generator: zero-init equals the closed-form prior; ONNX export parity with non-zero weights."""
import pytest
import torch

from mimicam.engines.config import get_config
from mimicam.engines.export import example_inputs, export_onnx
from mimicam.engines.model import build_modules
from mimicam.engines.network import conv_macs
from mimicam.engines.prior import FirstOrderPrior
from mimicam.engines.spec import graph_specs


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def kaiming_(*modules: torch.nn.Module, seed: int = 0) -> None:
    torch.manual_seed(seed)
    for module in modules:
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                torch.nn.init.normal_(m.bias, 0.0, 0.05)


def _inputs(cfg, seed=0):
    f = {k: torch.from_numpy(v) for k, v in example_inputs(cfg, seed).items()}
    return f, (f["source"], f["kp_source_in"], f["jac_source_in"]), (f["kp_driving"], f["jac_driving"])


@pytest.mark.parametrize("seed", [0, 1])
def test_untrained_model_is_the_closed_form_prior(seed):
    cfg = get_config("lite")
    enc, gen = build_modules(cfg)
    _, src, drv = _inputs(cfg, seed)
    with torch.no_grad():
        cache = enc(*src)
        image, mask, flow, paint = gen(*cache, *drv)
        ref_image, ref_mask, ref_flow, ref_paint = FirstOrderPrior(cfg)(*cache[:4], *drv)
    assert (image - ref_image).abs().max() <= 1e-5
    assert (mask - ref_mask).abs().max() <= 1e-5
    assert (flow - ref_flow).abs().max() <= 1e-5 and (paint - ref_paint).abs().max() <= 1e-5


def test_closed_form_default_skips_the_learned_parts_and_gives_the_paint_layer():
    """No weights: the learned parts are not computed, and the first output is the paint premultiplied by its
    alpha (the compositor warps the full-resolution portrait itself), which over the crop's warp is exactly the
    untrained model's image; the mask, flow and alpha are the same."""
    cfg = get_config("lite")
    (enc, gen), (_, prior_only) = build_modules(cfg), build_modules(cfg, learned=False)
    _, src, drv = _inputs(cfg)
    with torch.no_grad():
        cache = enc(*src)
        full, lean = gen(*cache, *drv), prior_only(*cache, *drv)
        warp = prior_only.prior.warp(cache[0], lean[2])
    assert (((1 - lean[3]) * warp + lean[0]).clamp(0, 1) - full[0]).abs().max() <= 1e-5
    for a, b in zip(full[1:], lean[1:]):
        assert (a - b).abs().max() <= 1e-5
    assert set(gen.state_dict()) == set(prior_only.state_dict())  # same checkpoint layout either way


def test_learned_parts_change_the_output_and_keep_it_valid():
    cfg = get_config("lite")
    enc, gen = build_modules(cfg)
    kaiming_(enc, gen)
    _, src, drv = _inputs(cfg)
    with torch.no_grad():
        cache = enc(*src)
        image = gen(*cache, *drv)[0]
        ref = FirstOrderPrior(cfg)(*cache[:4], *drv)[0]
    assert (image - ref).abs().max() > 1e-2
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0


def test_encoder_outputs_match_the_cache_spec():
    cfg = get_config("lite")
    enc, _ = build_modules(cfg)
    _, src, _ = _inputs(cfg)
    with torch.no_grad():
        cache = enc(*src)
    enc_spec, gen_spec = graph_specs(cfg)
    assert [tuple(c.shape) for c in cache] == [t.shape for t in enc_spec.outputs]
    assert enc_spec.output_names == gen_spec.input_names[:len(cache)]
    assert "src_features" in enc_spec.output_names


def test_lite_is_cheap_per_frame():
    cfg = get_config("lite")
    enc, gen = build_modules(cfg)
    _, src, drv = _inputs(cfg)
    with torch.no_grad():
        cache = enc(*src)
    assert conv_macs(gen, *cache, *drv) < 1.5e9  # ~5 GFLOPs budget per frame (2 FLOPs per MAC)


def test_export_parity_with_kaiming_weights(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    cfg = get_config("lite")
    enc, gen = build_modules(cfg)
    kaiming_(enc, gen)
    enc_path, gen_path = export_onnx(cfg, out_dir=tmp_path, modules=(enc, gen))
    import json

    from mimicam.engines.export import PARITY_ATOL

    parity = json.loads((tmp_path / "export.json").read_text())["parity_max_abs_diff"]
    assert set(parity) == {"source_encoder", "frame_generator"}
    assert max(parity.values()) <= PARITY_ATOL, parity  # ORT vs torch with non-zero weights
    model = onnx.load(str(gen_path))
    assert model.opset_import[0].version == 17
    ops = {n.op_type for n in model.graph.node}
    assert "GridSample" in ops and not ops & {"Inverse", "Loop", "If"}
    assert [o.name for o in model.graph.output] == ["image", "mask", "flow", "paint"]
