"""The secret watermark key: created on first use, stored mode 0600 in the user config dir.

The key only authenticates the payload (HMAC); mark presence is detectable without it, so that any
mimicam install can tell a mimicam frame, while only the key holder can say "this is ours".
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..errors import InputError

KEY_BYTES = 32
KEY_FILE = "watermark.key"


def user_config_dir() -> Path:
    """``$MIMICAM_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/mimicam``, else ``~/.config/mimicam``."""
    explicit = os.environ.get("MIMICAM_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mimicam"


def load_or_create_key(config_dir: Path | None = None) -> bytes:
    """Return the 32-byte secret, creating it (mode 0600, never overwriting) on first use."""
    directory = Path(config_dir) if config_dir is not None else user_config_dir()
    path = directory / KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:  # O_EXCL: two processes racing never overwrite each other's key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise InputError(f"watermark key {path} has {len(key)} bytes, expected {KEY_BYTES}",
                         "restore it from a backup, or move it away to create a new key")
    return key


def mac24(key: bytes, session_id: int, epoch: int) -> int:
    """24-bit HMAC-SHA256 tag over (session id, epoch)."""
    msg = b"mimicam-mark-v1" + session_id.to_bytes(4, "big") + epoch.to_bytes(4, "big")
    return int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest()[:3], "big")
