"""Generator weights: safetensors + a JSON sidecar (config, training summary, metrics, SHA-256).

Loading verifies the file's SHA-256 against the sidecar and every tensor's name and shape against the
model, and refuses anything else with a clear error. No pickle anywhere.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .errors import ModelError
from .config import GeneratorConfig
from .files import sha256_file


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def read_sidecar(path: Path, cfg: GeneratorConfig) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist", "pass --weights PATH to a .safetensors file")
    side = sidecar_path(path)
    if not side.is_file():
        raise ModelError(f"weights file {path} has no sidecar {side.name}", "keep the .json next to the .safetensors")
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"sidecar {side} is not valid JSON ({exc})", "restore it from the training run") from None
    digest = sha256_file(path)
    if meta.get("sha256") != digest:
        raise ModelError(f"weights file {path} has SHA-256 {digest[:12]}..., its sidecar says "
                         f"{str(meta.get('sha256'))[:12]}...", "the file is corrupt or was replaced; re-export it")
    if meta.get("config") != cfg.name:
        raise ModelError(f"weights {path.name} are for config {meta.get('config')!r}, not {cfg.name!r}",
                         f"use --config {meta.get('config')}")
    return meta


def load_weights(modules: tuple[torch.nn.Module, ...], cfg: GeneratorConfig, path: Path) -> dict:
    """Load verified weights into (encoder, generator). Returns the sidecar."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_sidecar(path, cfg)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"weights file {path} is not a readable safetensors file ({exc})") from None
    expected: dict[str, torch.Tensor] = {}
    for prefix, module in zip(("encoder.", "generator."), modules):
        expected.update({prefix + k: v for k, v in module.state_dict().items()})
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelError(f"weights {path.name} do not match the {cfg.name} model: missing {missing[:3]}, "
                         f"unexpected {extra[:3]}", "train or export weights for this config")
    for name, ref in expected.items():
        if tuple(tensors[name].shape) != tuple(ref.shape):
            raise ModelError(f"weights {path.name}: {name} has shape {tuple(tensors[name].shape)}, "
                             f"expected {tuple(ref.shape)}")
    for prefix, module in zip(("encoder.", "generator."), modules):
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    return meta


def save_weights(modules: tuple[torch.nn.Module, ...], cfg: GeneratorConfig, path: Path, meta: dict | None = None) -> Path:
    """Write (encoder, generator) weights as safetensors + sidecar (config, SHA-256, ``meta``). Both files
    are written next to the target and moved into place, so a crash never leaves a half-written pair."""
    import os

    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in zip(("encoder.", "generator."), modules):
        tensors.update({prefix + k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"config": cfg.name})
    side = {**(meta or {}), "config": cfg.name, "format": "mimicam.weights/1", "sha256": sha256_file(tmp),
            "tensors": len(tensors), "params": int(sum(v.numel() for v in tensors.values()))}
    side_tmp = sidecar_path(path).with_name(sidecar_path(path).name + ".tmp")
    side_tmp.write_text(json.dumps(side, indent=2, default=str))
    os.replace(tmp, path)
    os.replace(side_tmp, sidecar_path(path))
    return path
