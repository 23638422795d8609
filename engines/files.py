"""Files the user owns or the program keeps: hashing, atomic writes, the user's cache and config
directories, and environment values. No torch, no numpy: everything may import it cheaply.

Directories: ``MIMICAM_CACHE_DIR`` / ``MIMICAM_CONFIG_DIR`` override; else, per OS,
cache: ``$XDG_CACHE_HOME/mimicam`` or ``~/.cache/mimicam``, ``%LOCALAPPDATA%\\mimicam``, ``~/Library/Caches/mimicam``;
config: ``$XDG_CONFIG_HOME/mimicam`` or ``~/.config/mimicam``, ``%APPDATA%\\mimicam``,
``~/Library/Application Support/mimicam``.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from .errors import InputError

APP = "mimicam"


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename: a reader never sees half a file,
    and a failure leaves whatever was at ``path`` untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _user_dir(env: str, windows: str, mac: str, xdg: str, xdg_default: str) -> Path:
    explicit = os.environ.get(env)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get(windows) or Path.home() / "AppData" / ("Local" if windows == "LOCALAPPDATA"
                                                                           else "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / mac
    else:
        base = Path(os.environ.get(xdg) or Path.home() / xdg_default)
    return base / APP


def user_cache_dir() -> Path:
    """Where exports and TensorRT engines are cached (``MIMICAM_CACHE_DIR`` overrides)."""
    return _user_dir("MIMICAM_CACHE_DIR", "LOCALAPPDATA", "Caches", "XDG_CACHE_HOME", ".cache")


def user_config_dir() -> Path:
    """Where the watermark key lives (``MIMICAM_CONFIG_DIR`` overrides)."""
    return _user_dir("MIMICAM_CONFIG_DIR", "APPDATA", "Application Support", "XDG_CONFIG_HOME", ".config")


def env_int(name: str, default: int, lo: int = 0, hi: int = 1 << 30) -> int:
    """An integer environment setting in [lo, hi], or ``default`` when unset or empty; anything else is a
    clear error naming the variable, not a bare ``int()`` crash."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"environment variable {name}={raw!r} is not a whole number",
                         f"set it to a number from {lo} to {hi}, or unset it") from None
    if not lo <= value <= hi:
        raise InputError(f"environment variable {name}={value} is out of range",
                         f"set it to a number from {lo} to {hi}, or unset it")
    return value
