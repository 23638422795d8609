"""Loader step: the two ONNX graphs a runner needs, as paths (Polygraphy's loader/runner split).

``ensure_graphs(cfg, weights)`` returns the cached export when its key (config, the weights' SHA-256,
a hash of the model code) and the files' SHA-256 match; only a miss imports torch and exports
(``export.export_onnx``). So a live run with a cached export never imports torch. No torch here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import GeneratorConfig
from .files import sha256_file, user_cache_dir

# the files whose code decides what the graphs compute: a change to any of them re-exports
CODE_FILES = ("prior.py", "model.py", "network.py", "layout.py", "config.py", "spec.py", "export.py", "weights.py")


def code_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in CODE_FILES:
        p = here / name
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def weights_digest(path: Path | None) -> str:
    return "closed-form" if path is None else sha256_file(Path(path))


@dataclass(frozen=True)
class ExportPlace:
    """Where one export of (config, weights, code) lives, and the key its metadata must carry."""

    key: str
    folder: Path

    @property
    def encoder(self) -> Path:
        return self.folder / "source_encoder.onnx"

    @property
    def generator(self) -> Path:
        return self.folder / "frame_generator.onnx"

    @property
    def meta(self) -> Path:
        return self.folder / "export.json"

    def valid(self) -> bool:
        """The metadata names this key and both files still have the SHA-256 recorded at export."""
        if not (self.encoder.exists() and self.generator.exists() and self.meta.exists()):
            return False
        try:
            meta = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return False
        return meta.get("key") == self.key and meta.get("sha256") == [sha256_file(self.encoder),
                                                                      sha256_file(self.generator)]


def export_place(cfg: GeneratorConfig, weights: Path | None = None, out_dir: Path | None = None) -> ExportPlace:
    key = hashlib.sha256(f"{cfg}|{weights_digest(weights)}|{code_hash()}".encode()).hexdigest()[:16]
    return ExportPlace(key, Path(out_dir) if out_dir else user_cache_dir() / "onnx" / f"{cfg.name}-{key}")


def ensure_graphs(cfg: GeneratorConfig, weights: Path | None = None) -> tuple[Path, Path]:
    """(source_encoder, frame_generator) ONNX paths: the cached export, or a new one (imports torch)."""
    place = export_place(cfg, weights)
    if place.valid():
        return place.encoder, place.generator
    from .export import export_onnx

    return export_onnx(cfg, weights)
