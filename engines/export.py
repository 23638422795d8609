"""ONNX export of the two graphs: eval -> warm forward -> export -> onnx checker -> ONNX Runtime parity.

Exports are cached in the user cache directory, keyed by the config, the weights' SHA-256 and a hash
of the model code, so a change to either re-exports and nothing stale is ever run.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import ModelError
from .config import GeneratorConfig
from .model import build_modules
from .spec import ModelSpec, graph_specs
from .template import example_motion
from .files import sha256_file
from .graphs import code_hash, export_place, weights_digest

PARITY_ATOL = 1e-4  # what the tests require of ORT vs torch on this machine (tests/engines)
# The gate of an export on a user's machine: other CPUs round differently (AVX2 vs AVX-512 kernels), and a
# steep soft mask (the lids) can turn that into 1e-3 here and there; a broken export is off by far more.
# Anything above PARITY_ATOL is recorded in export.json; above EXPORT_GATE_ATOL (half a grey level) the
# export is refused.
EXPORT_GATE_ATOL = 2e-3


def example_inputs(cfg: GeneratorConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Plausible inputs: a textured portrait crop (smooth colour blobs plus a fine grain, like a photo;
    pure per-pixel noise drives trained convolutions far outside their range and turns float rounding
    into parity failures no real portrait shows) and template keypoints moved a little."""
    rng = np.random.default_rng(seed)
    s = cfg.image_size
    blobs = torch.from_numpy(rng.random((1, 3, max(s // 8, 1), max(s // 8, 1)), dtype=np.float32))
    blobs = torch.nn.functional.interpolate(blobs, size=(s, s), mode="bilinear", align_corners=False).numpy()
    grain = 0.2 * (rng.random((1, 3, s, s), dtype=np.float32) - 0.5)
    source = np.clip(blobs + grain, 0.0, 1.0).astype(np.float32)
    kp_s, jac_s = example_motion(cfg, rng, jitter=0.0)
    kp_d, jac_d = example_motion(cfg, rng, jitter=0.03)
    return {"source": source, "kp_source_in": kp_s, "jac_source_in": jac_s, "kp_driving": kp_d, "jac_driving": jac_d}


def _export_one(module: torch.nn.Module, args: tuple[torch.Tensor, ...], spec: ModelSpec, path: Path) -> None:
    # the tracer's notes (legacy exporter, static shapes) are for developers; the checker and the parity
    # test below are what decide whether the export is right
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module(*args)  # warm forward
        torch.onnx.export(module, args, str(path), input_names=list(spec.input_names),
                          output_names=list(spec.output_names), opset_version=spec.opset, dynamo=False)


def _check(path: Path, spec: ModelSpec) -> None:
    import onnx

    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    names_in = tuple(i.name for i in model.graph.input)
    names_out = tuple(o.name for o in model.graph.output)
    if names_in != spec.input_names or names_out != spec.output_names:
        raise ModelError(f"exported {spec.graph} has inputs {names_in} / outputs {names_out}, expected "
                         f"{spec.input_names} / {spec.output_names}")


def _parity(path: Path, spec: ModelSpec, feeds: dict[str, np.ndarray], expected: tuple[np.ndarray, ...]) -> float:
    from ._ort import onnxruntime

    ort = onnxruntime()

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(list(spec.output_names), {n: feeds[n] for n in spec.input_names})
    diff = max(float(np.abs(g - e).max()) for g, e in zip(got, expected))
    if not diff <= EXPORT_GATE_ATOL:
        raise ModelError(f"ONNX Runtime output of {spec.graph} differs from torch by {diff:.2e} "
                         f"(expected <= {EXPORT_GATE_ATOL:.0e})", "the export is broken: report this with `mimicam doctor`")
    return diff


def export_onnx(cfg: GeneratorConfig, weights: Path | None = None, out_dir: Path | None = None,
                modules: tuple[torch.nn.Module, torch.nn.Module] | None = None) -> tuple[Path, Path]:
    """Export (or reuse the cached export of) both graphs. Returns (source_encoder, frame_generator).
    A runner that only needs the paths calls ``graphs.ensure_graphs``, which imports no torch on a hit."""
    from .weights import load_weights

    place = export_place(cfg, weights, out_dir)
    key, out, enc_path, gen_path, meta_path = place.key, place.folder, place.encoder, place.generator, place.meta
    if modules is None and place.valid():
        return enc_path, gen_path
    enc, gen = modules or build_modules(cfg, learned=weights is not None)
    if modules is None and weights is not None:
        load_weights((enc, gen), cfg, weights)
    enc.eval(), gen.eval()
    enc_spec, gen_spec = graph_specs(cfg)
    feeds = example_inputs(cfg)
    t = {k: torch.from_numpy(v) for k, v in feeds.items()}
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        cache = enc(*(t[n] for n in enc_spec.input_names))
        feeds.update({s.name: c.numpy() for s, c in zip(enc_spec.outputs, cache)})
        produced = gen(*(torch.from_numpy(feeds[n]) for n in gen_spec.input_names))
    parity: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=out) as tmp:  # write next to the target, then move: no partial files
        for module, spec, final, args, expected in (
            (enc, enc_spec, enc_path, tuple(t[n] for n in enc_spec.input_names), tuple(c.numpy() for c in cache)),
            (gen, gen_spec, gen_path, tuple(torch.from_numpy(feeds[n]) for n in gen_spec.input_names),
             tuple(p.numpy() for p in produced)),
        ):
            tmp_path = Path(tmp) / final.name
            _export_one(module, args, spec, tmp_path)
            _check(tmp_path, spec)
            parity[spec.graph] = _parity(tmp_path, spec, feeds, expected)
            os.replace(tmp_path, final)
    meta_path.write_text(json.dumps({"key": key, "config": cfg.name, "opset": enc_spec.opset,
                                     "weights": weights_digest(weights), "code": code_hash(),
                                     "sha256": [sha256_file(enc_path), sha256_file(gen_path)],
                                     "parity_max_abs_diff": parity}, indent=2))
    return enc_path, gen_path
