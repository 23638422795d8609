"""Checkpoints: safetensors + sidecar round trip; corrupted and mismatched files are refused clearly."""
import dataclasses
import json

import pytest
import torch

from mimicam.engines.config import get_config
from mimicam.engines.model import build_modules
from mimicam.engines.weights import load_weights, save_weights, sidecar_path
from mimicam.realtime.errors import ModelError


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    cfg = get_config("lite")
    enc, gen = build_modules(cfg)
    torch.manual_seed(0)
    for p in list(enc.parameters()) + list(gen.parameters()):
        torch.nn.init.normal_(p, 0.0, 0.02)
    path = save_weights((enc, gen), cfg, tmp_path_factory.mktemp("w") / "w.safetensors", {"metrics": {"l1": 0.1}})
    return cfg, (enc, gen), path


def test_round_trip(saved):
    cfg, (enc, gen), path = saved
    enc2, gen2 = build_modules(cfg)
    meta = load_weights((enc2, gen2), cfg, path)
    assert meta["config"] == "lite" and meta["metrics"] == {"l1": 0.1}
    for a, b in ((enc, enc2), (gen, gen2)):
        for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
            assert k == k2 and torch.equal(v, v2)


def test_corrupted_file_is_refused(saved, tmp_path):
    cfg, _, path = saved
    bad = tmp_path / "bad.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    sidecar_path(bad).write_text(sidecar_path(path).read_text())
    with pytest.raises(ModelError, match="SHA-256"):
        load_weights(build_modules(cfg), cfg, bad)


def test_garbage_with_matching_hash_is_refused(saved, tmp_path):
    cfg, _, path = saved
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"not a safetensors file")
    meta = json.loads(sidecar_path(path).read_text())
    import hashlib
    meta["sha256"] = hashlib.sha256(bad.read_bytes()).hexdigest()
    sidecar_path(bad).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_weights(build_modules(cfg), cfg, bad)


def test_missing_sidecar_is_refused(saved, tmp_path):
    cfg, _, path = saved
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(path.read_bytes())
    with pytest.raises(ModelError, match="no sidecar"):
        load_weights(build_modules(cfg), cfg, lone)


def test_other_config_is_refused(saved):
    _, _, path = saved
    vox = dataclasses.replace(get_config("lite"), name="vox256")
    with pytest.raises(ModelError, match="config 'lite', not 'vox256'"):
        load_weights(build_modules(get_config("lite")), vox, path)


def test_mismatched_shapes_are_refused(saved, tmp_path):
    cfg, _, _ = saved
    wide = dataclasses.replace(cfg, block_expansion=cfg.block_expansion * 2)  # same name, other shapes
    path = save_weights(build_modules(wide), wide, tmp_path / "wide.safetensors")
    with pytest.raises(ModelError, match="has shape"):
        load_weights(build_modules(cfg), cfg, path)
    deeper = dataclasses.replace(cfg, num_bottleneck_blocks=cfg.num_bottleneck_blocks + 1)
    path = save_weights(build_modules(deeper), deeper, tmp_path / "deeper.safetensors")
    with pytest.raises(ModelError, match="do not match the lite model"):
        load_weights(build_modules(cfg), cfg, path)
