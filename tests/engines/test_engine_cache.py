"""Engine cache: keys, sidecar validation (stale / foreign / tampered engines are never trusted)."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from mimicam.engines.engine_cache import EngineCache, EngineKey, onnx_sha256
from mimicam.engines.files import user_cache_dir

KEY = EngineKey("lite", "frame_generator", "fp16", "ab" * 32, "10.9.0.34", "9.0")
ENGINE = b"\x01engine-bytes" * 100


@pytest.fixture
def cache(tmp_path):
    return EngineCache(tmp_path / "cache")


def test_key_digest_changes_with_every_field():
    digests = {KEY.digest}
    for field, value in (("config", "vox256"), ("graph", "source_encoder"), ("precision", "fp32"),
                         ("onnx_sha256", "cd" * 32), ("tensorrt_version", "10.10.0"), ("compute_capability", "8.9")):
        digests.add(replace(KEY, **{field: value}).digest)
    assert len(digests) == 7
    assert KEY.stem.startswith("lite-frame_generator-fp16-") and len(KEY.stem.rsplit("-", 1)[1]) == 16


def test_cache_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MIMICAM_CACHE_DIR", str(tmp_path / "c"))
    assert user_cache_dir() == tmp_path / "c"
    assert EngineCache().engines == tmp_path / "c" / "engines"


def test_store_then_lookup(cache):
    path = cache.store(KEY, ENGINE, {"gpu": "Test GPU"})
    found = cache.lookup(KEY)
    assert found.ok and found.path == path and found.reason == "cached"
    meta = json.loads(cache.paths(KEY)[1].read_text())
    assert meta["key"] == KEY.fields() and meta["engine_bytes"] == len(ENGINE) and meta["gpu"] == "Test GPU"
    assert not list(cache.engines.glob("*.tmp"))


def test_missing_engine(cache):
    found = cache.lookup(KEY)
    assert not found.ok and "no engine" in found.reason


def test_engine_without_sidecar_is_foreign(cache):
    engine, _ = cache.paths(KEY)
    engine.parent.mkdir(parents=True)
    engine.write_bytes(ENGINE)
    found = cache.lookup(KEY)
    assert not found.ok and "foreign" in found.reason


def test_tampered_engine_same_size_is_rejected(cache):
    path = cache.store(KEY, ENGINE)
    path.write_bytes(ENGINE[:-1] + b"X")
    found = cache.lookup(KEY)
    assert not found.ok and "hash" in found.reason


def test_truncated_engine_is_rejected(cache):
    path = cache.store(KEY, ENGINE)
    path.write_bytes(ENGINE[:10])
    assert "size" in cache.lookup(KEY).reason


def test_stale_sidecar_names_the_difference(cache):
    cache.store(KEY, ENGINE)
    side = cache.paths(KEY)[1]
    meta = json.loads(side.read_text())
    meta["key"]["tensorrt_version"] = "10.0.1"
    side.write_text(json.dumps(meta))
    found = cache.lookup(KEY)
    assert not found.ok and "stale" in found.reason and "10.0.1" in found.reason


def test_other_schema_is_rejected(cache):
    cache.store(KEY, ENGINE)
    side = cache.paths(KEY)[1]
    meta = json.loads(side.read_text())
    meta["schema"] = 99
    side.write_text(json.dumps(meta))
    assert not cache.lookup(KEY).ok


def test_engine_copied_from_another_machine_is_foreign(tmp_path):
    theirs, ours = EngineCache(tmp_path / "theirs"), EngineCache(tmp_path / "ours")
    theirs.store(KEY, ENGINE)
    shutil.copytree(theirs.engines, ours.engines)  # engine + a perfectly consistent sidecar, other secret
    found = ours.lookup(KEY)
    assert not found.ok and "foreign" in found.reason
    assert theirs.lookup(KEY).ok


def test_get_or_build_builds_once_and_rebuilds_untrusted(cache):
    calls = []

    def build():
        calls.append(1)
        return ENGINE

    first = cache.get_or_build(KEY, build)
    assert cache.get_or_build(KEY, build) == first and len(calls) == 1
    first.write_bytes(b"garbage")
    cache.get_or_build(KEY, build)
    assert len(calls) == 2 and cache.lookup(KEY).ok
    cache.get_or_build(KEY, build, force=True)
    assert len(calls) == 3


def test_store_prunes_older_engine_of_same_gpu_only(cache):
    old = replace(KEY, onnx_sha256="00" * 32)
    other_gpu = replace(KEY, onnx_sha256="11" * 32, compute_capability="8.6")
    old_path, other_path = cache.store(old, ENGINE), cache.store(other_gpu, ENGINE)
    cache.store(KEY, ENGINE)
    assert not old_path.exists() and not cache.paths(old)[1].exists()
    assert other_path.exists() and cache.lookup(other_gpu).ok


def test_timing_cache_path_per_version_and_gpu(cache):
    a = cache.timing_cache_path("10.9.0", "9.0")
    assert a != cache.timing_cache_path("10.9.0", "8.9") and a.parent == cache.engines


def test_onnx_sha256_covers_external_data(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import helper, numpy_helper

    def save(values):
        w = numpy_helper.from_array(np.asarray(values, np.float32), "w")
        x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4])
        y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4])
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
        onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"), save_as_external_data=True,
                  all_tensors_to_one_file=True, location="m.onnx.data", size_threshold=0)

    save([1, 2, 3, 4])
    first = onnx_sha256(tmp_path / "m.onnx")
    save([1, 2, 3, 5])  # same graph file, other weights
    assert onnx_sha256(tmp_path / "m.onnx") != first
