"""The local cache of TensorRT engines (the ONNX graphs they are built from are cached by ``export.py``).

An engine is stored as ``<config>-<graph>-<precision>-<digest>.engine`` with a JSON sidecar. The key
is the ONNX file's SHA-256, the TensorRT version, the GPU's compute capability and the precision. A
lookup trusts an engine only when its sidecar (a) has this schema, (b) names exactly this key,
(c) gives the engine file's size and SHA-256, and (d) carries a seal (HMAC) made with this cache's
own random secret, so an engine built elsewhere and copied in is "foreign" and rebuilt. Engines are
only ever built locally; nothing here downloads one.

The cache lives in ``$MIMICAM_CACHE_DIR`` when set (tests), else the user cache directory
(``$XDG_CACHE_HOME/mimicam``, ``~/.cache/mimicam``, ``%LOCALAPPDATA%\\mimicam``, ``~/Library/Caches/mimicam``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .files import atomic_write, sha256_file, user_cache_dir

SCHEMA = 1
PRODUCER = "mimicam"


@dataclass(frozen=True)
class EngineKey:
    config: str
    graph: str
    precision: str
    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str  # "major.minor"

    def fields(self) -> dict[str, str]:
        return asdict(self)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.fields(), sort_keys=True).encode()).hexdigest()

    @property
    def prefix(self) -> str:
        return f"{self.config}-{self.graph}-{self.precision}-"

    @property
    def stem(self) -> str:
        return self.prefix + self.digest[:16]


@dataclass(frozen=True)
class Lookup:
    """Result of a cache lookup: ``path`` is set only for an engine that passed every check."""

    path: Path | None
    reason: str  # "cached", or why the engine cannot be used

    @property
    def ok(self) -> bool:
        return self.path is not None


class EngineCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else user_cache_dir()
        self.engines = self.root / "engines"

    def paths(self, key: EngineKey) -> tuple[Path, Path]:
        return self.engines / f"{key.stem}.engine", self.engines / f"{key.stem}.json"

    def timing_cache_path(self, tensorrt_version: str, compute_capability: str) -> Path:
        return self.engines / f"timing-trt{tensorrt_version}-sm{compute_capability.replace('.', '')}.cache"

    def _secret(self) -> bytes:
        path = self.root / "local-secret"
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            atomic_write(path, secrets.token_hex(32).encode())
            os.chmod(path, 0o600)
            return bytes.fromhex(path.read_text().strip())

    def _seal(self, key: EngineKey, engine_sha256: str) -> str:
        return hmac.new(self._secret(), f"{key.digest}:{engine_sha256}".encode(), hashlib.sha256).hexdigest()

    def lookup(self, key: EngineKey) -> Lookup:
        engine, sidecar = self.paths(key)
        if not engine.exists():
            return Lookup(None, "no engine built yet")
        try:
            meta = json.loads(sidecar.read_text())
        except FileNotFoundError:
            return Lookup(None, "foreign engine: no sidecar written by this cache")
        except (OSError, ValueError) as exc:
            return Lookup(None, f"unreadable sidecar ({exc})")
        if not isinstance(meta, dict) or meta.get("schema") != SCHEMA or meta.get("producer") != PRODUCER:
            return Lookup(None, "sidecar of another schema or producer")
        if meta.get("key") != key.fields():
            wanted, found = key.fields(), meta.get("key") or {}
            diff = [f"{k} {found.get(k)!r} (now {v!r})" for k, v in wanted.items() if found.get(k) != v]
            return Lookup(None, "stale engine: " + ", ".join(diff or ["key mismatch"]))
        if engine.stat().st_size != meta.get("engine_bytes"):
            return Lookup(None, "engine file size does not match its sidecar")
        digest = sha256_file(engine)
        if digest != meta.get("engine_sha256"):
            return Lookup(None, "engine file hash does not match its sidecar")
        if not hmac.compare_digest(str(meta.get("seal", "")), self._seal(key, digest)):
            return Lookup(None, "foreign engine: not built by this machine's cache")
        return Lookup(engine, "cached")

    def store(self, key: EngineKey, engine_bytes: bytes, extra: dict | None = None) -> Path:
        """Write the engine, then its sidecar (so a crash never leaves a trusted half), and drop
        older engines of the same config/graph/precision/GPU."""
        engine, sidecar = self.paths(key)
        sidecar.unlink(missing_ok=True)
        atomic_write(engine, engine_bytes)
        digest = hashlib.sha256(engine_bytes).hexdigest()
        meta = {"schema": SCHEMA, "producer": PRODUCER, "key": key.fields(), "engine_bytes": len(engine_bytes),
                "engine_sha256": digest, "seal": self._seal(key, digest), "created": time.time(),
                **(extra or {})}
        atomic_write(sidecar, json.dumps(meta, indent=2, sort_keys=True).encode())
        self._prune_siblings(key)
        return engine

    def _prune_siblings(self, key: EngineKey) -> None:
        for other in self.engines.glob(key.prefix + "*.engine"):
            if other.stem == key.stem:
                continue
            side = other.with_suffix(".json")
            try:
                cc = json.loads(side.read_text())["key"]["compute_capability"]
            except (OSError, ValueError, KeyError, TypeError):
                cc = None  # unusable anyway
            if cc in (None, key.compute_capability):
                other.unlink(missing_ok=True)
                side.unlink(missing_ok=True)

    def get_or_build(self, key: EngineKey, build: Callable[[], bytes], extra: dict | None = None,
                     force: bool = False) -> Path:
        """The trusted engine for ``key``, building (and storing) it first when absent or untrusted."""
        if not force:
            found = self.lookup(key)
            if found.ok:
                return found.path  # type: ignore[return-value]
        return self.store(key, build(), extra)


def onnx_sha256(path: Path) -> str:
    """SHA-256 over an ONNX file and the external-data files it references (the torch exporter may
    store weights next to the graph), so a change of weights alone changes the key."""
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    locations = sorted({entry.value for init in model.graph.initializer for entry in init.external_data
                        if entry.key == "location"})
    h = hashlib.sha256(sha256_file(path).encode())
    for loc in locations:
        h.update(f"\0{loc}\0{sha256_file(path.parent / loc)}".encode())
    return h.hexdigest()
