"""Model files that are truncated, of the wrong hash, of wrong shapes or of a foreign format are refused
with one clear line, and nothing in them is executed (no pickle). Shipped files and cached exports are
checked by SHA-256 before use; a TensorRT engine this machine did not build is never trusted."""
from __future__ import annotations

import hashlib
import json
import pickle  # noqa: S403 - only to build a hostile file that must NOT be unpickled
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mimicam.engines.config import get_config
from mimicam.engines.engine_cache import EngineCache, EngineKey
from mimicam.engines.model import build_modules
from mimicam.engines.weights import load_weights
from mimicam.realtime import assets
from mimicam.realtime.errors import ModelError
from mimicam.tools import cli

from shared_data import DRIVING, PORTRAITS, need

CFG = get_config("lite")


def _tensors() -> dict[str, torch.Tensor]:
    out = {}
    for prefix, module in zip(("encoder.", "generator."), build_modules(CFG)):
        out.update({prefix + k: v.contiguous() for k, v in module.state_dict().items()})
    return out


def _sidecar(path: Path, config: str = "lite", sha: str | None = None) -> Path:
    path.with_suffix(".json").write_text(json.dumps({"config": config, "sha256": sha or hashlib.sha256(
        path.read_bytes()).hexdigest()}))
    return path


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(_Boom.marker),))


def _cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    tensors = _tensors()
    good = tmp / "good.safetensors"
    save_file(tensors, str(good))
    data = good.read_bytes()
    cases = {}
    p = tmp / "trunc_hash.safetensors"
    p.write_bytes(data[: len(data) // 2])
    cases["truncated (sidecar of the full file)"] = (_sidecar(p, sha=hashlib.sha256(data).hexdigest()), "SHA-256")
    p = tmp / "trunc.safetensors"
    p.write_bytes(data[: len(data) // 2])
    cases["truncated (matching sidecar)"] = (_sidecar(p), "not a readable safetensors file")
    p = tmp / "flipped.safetensors"
    p.write_bytes(data[:-10] + bytes(10))
    cases["bytes changed"] = (_sidecar(p, sha="0" * 64), "SHA-256")
    name = next(k for k, v in tensors.items() if v.ndim == 4)
    p = tmp / "shapes.safetensors"
    save_file({**tensors, name: torch.zeros(tensors[name].shape[0] + 1, *tensors[name].shape[1:])}, str(p))
    cases["wrong shape"] = (_sidecar(p), "has shape")
    p = tmp / "missing.safetensors"
    save_file({k: v for k, v in tensors.items() if k != name}, str(p))
    cases["missing tensor"] = (_sidecar(p), "do not match")
    p = tmp / "other_config.safetensors"
    shutil.copy(good, p)
    cases["other config"] = (_sidecar(p, config="vox256"), "are for config")
    p = tmp / "pickle.safetensors"
    _Boom.marker = str(tmp / "PWNED")
    p.write_bytes(pickle.dumps({"state_dict": _Boom()}))
    cases["pickle renamed"] = (_sidecar(p), "not a readable safetensors file")
    p = tmp / "torchsave.safetensors"
    torch.save(tensors, p)
    cases["torch.save zip"] = (_sidecar(p), "not a readable safetensors file")
    p = tmp / "onnx.safetensors"
    p.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(200))
    cases["foreign bytes"] = (_sidecar(p), "not a readable safetensors file")
    p = tmp / "nosidecar.safetensors"
    shutil.copy(good, p)
    cases["no sidecar"] = (p, "has no sidecar")
    p = tmp / "badjson.safetensors"
    shutil.copy(good, p)
    p.with_suffix(".json").write_text("{not json")
    cases["broken sidecar"] = (p, "not valid JSON")
    cases["missing file"] = (tmp / "nope.safetensors", "does not exist")
    return cases


def test_bad_weight_files_are_refused_with_one_line(tmp_path):
    cases = _cases(tmp_path)
    for what, (path, words) in cases.items():
        with pytest.raises(ModelError) as err:
            load_weights(build_modules(CFG), CFG, path)
        msg = str(err.value)
        assert words in msg and "\n" not in msg, (what, msg)
    assert not (tmp_path / "PWNED").exists(), "a pickle inside a weights file was executed"
    assert len(cases) == 12


def test_cli_render_with_bad_weights_is_one_line_no_output(tmp_path, capsys):
    path, _ = _cases(tmp_path)["wrong shape"]
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    rc = cli.main(["render", "--source", str(need(PORTRAITS / "avatarify_obama.jpg")), "--driving",
                   str(need(DRIVING / "lp_d0_man_greenscreen_expressions.mp4")), "--out", str(out),
                   "--backend", "ort", "--weights", str(path)])
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ": warning: " not in ln]  # portrait check
    assert rc != 0 and len(err) == 1 and "has shape" in err[0]
    assert list(out.parent.iterdir()) == []


def test_shipped_files_are_checked_by_sha256(tmp_path, monkeypatch):
    for name in assets.SHA256:  # the real shipped files pass
        assets.verify_sha256(assets.asset_path(name), assets.SHA256[name], name)
    fake = tmp_path / "assets"
    shutil.copytree(assets.ASSET_DIR, fake)
    model = fake / "face_landmarker.task"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    model.write_bytes(bytes(data))
    monkeypatch.setattr(assets, "ASSET_DIR", fake)
    assets.verified_asset.cache_clear()
    try:
        with pytest.raises(ModelError, match="SHA-256"):
            assets.landmarker_model()
        model.unlink()
        with pytest.raises(ModelError, match="cannot be read"):
            assets.landmarker_model()
    finally:
        assets.verified_asset.cache_clear()


def test_landmarker_is_created_from_the_verified_bytes():
    """The landmark stage gets the model from ``assets.landmarker_model()`` (hash-checked bytes),
    never from a path that could be swapped after the check."""
    src = (Path(assets.__file__).with_name("landmarks.py")).read_text()
    assert "landmarker_model()" in src and "model_asset_buffer" in src and "model_asset_path" not in src


def test_foreign_tensorrt_engine_is_not_trusted(tmp_path):
    key = EngineKey("lite", "frame_generator", "fp16", "a" * 64, "10.0.0", "8.9")
    elsewhere, here = EngineCache(tmp_path / "elsewhere"), EngineCache(tmp_path / "here")
    built = elsewhere.store(key, b"engine-bytes-built-on-another-machine")
    assert elsewhere.lookup(key).ok  # trusted by the cache that built it
    engine, sidecar = here.paths(key)
    engine.parent.mkdir(parents=True)
    shutil.copy(built, engine)
    assert "foreign" in here.lookup(key).reason  # no sidecar
    shutil.copy(built.with_suffix(".json"), sidecar)
    assert "foreign" in here.lookup(key).reason  # sealed with another machine's secret
    own = here.store(key, b"engine-bytes-built-here")
    assert here.lookup(key).ok
    own.write_bytes(b"engine-bytes-built-herX")
    assert not here.lookup(key).ok  # tampered after the build
    calls = []
    path = here.get_or_build(key, lambda: calls.append(1) or b"rebuilt")
    assert calls == [1] and path.read_bytes() == b"rebuilt"
