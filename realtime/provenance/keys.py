"""The secret watermark key: created on first attributed use, stored mode 0600 in the user config dir.

The mark's presence is public (any install detects it); the key encrypts the session id, authenticates
the payload and keys the content signature, so that only the key holder can say "this install made
this content". ``mimicam verify`` only ever reads keys (``load_keys``): it never creates one.
Rotation (``rotate_key``) replaces the key; the old one is kept under ``retired/`` for verification
only when the user asks, otherwise it is deleted.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import time
import warnings
from pathlib import Path

from ...engines.files import user_config_dir
from ..errors import InputError

KEY_BYTES = 32
KEY_FILE = "watermark.key"
RETIRED_DIR = "retired"


class LooseKeyWarning(UserWarning):
    """The key file can be read by other users."""


def fingerprint(key: bytes) -> str:
    """Short public id of a key (it does not reveal the key)."""
    return hashlib.sha256(b"mimicam-key-id" + key).hexdigest()[:12]


def read_key(path: Path) -> bytes:
    """Read one key file; warn (``LooseKeyWarning``) when group or others may read it."""
    path = Path(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        warnings.warn(f"watermark key {path} is readable by other users (mode {mode:o}): run `chmod 600 {path}`",
                      LooseKeyWarning, stacklevel=2)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise InputError(f"watermark key {path} has {len(key)} bytes, expected {KEY_BYTES}",
                         "restore it from a backup, or run `mimicam key rotate` to make a new key")
    return key


def _write_new(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:  # O_EXCL: two processes racing never overwrite each other's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))


def load_or_create_key(config_dir: Path | None = None) -> bytes:
    """Return the 32-byte secret, creating it (mode 0600, never overwriting) on first use. For marking only."""
    path = Path(config_dir if config_dir is not None else user_config_dir()) / KEY_FILE
    if not path.exists():
        _write_new(path)
    return read_key(path)


def load_keys(config_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """Every key this user may verify with: ``("current", key)`` first if it exists, then retired keys
    (``("retired:<file name>", key)``). Never creates anything; an empty list when there is none."""
    directory = Path(config_dir if config_dir is not None else user_config_dir())
    keys = []
    if (directory / KEY_FILE).exists():
        keys.append(("current", read_key(directory / KEY_FILE)))
    retired = directory / RETIRED_DIR
    if retired.is_dir():
        keys += [(f"retired:{p.name}", read_key(p)) for p in sorted(retired.glob("*.key"))]
    return keys


def rotate_key(config_dir: Path | None = None, keep_old: bool = False) -> tuple[bytes, Path | None]:
    """Replace the key with a new random one. The old key is moved to ``retired/`` (mode 0600) when
    ``keep_old``, otherwise overwritten with zeros and deleted. -> (new key, retired path or None)."""
    directory = Path(config_dir if config_dir is not None else user_config_dir())
    path = directory / KEY_FILE
    kept = None
    if path.exists():
        old = read_key(path)
        if keep_old:
            (directory / RETIRED_DIR).mkdir(mode=0o700, exist_ok=True)
            kept = directory / RETIRED_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{fingerprint(old)}.key"
            os.replace(path, kept)
            os.chmod(kept, 0o600)
        else:
            with open(path, "r+b") as fh:
                fh.write(b"\0" * len(old))
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
    _write_new(path)
    return read_key(path), kept


def _prf(key: bytes, label: bytes, *fields: int) -> bytes:
    msg = label + b"".join(f.to_bytes(8, "big") for f in fields)
    return hmac.new(key, msg, hashlib.sha256).digest()


def mac24(key: bytes, session_id: int, signature: int) -> int:
    """24-bit HMAC-SHA256 tag over (session id, content signature)."""
    return int.from_bytes(_prf(key, b"mimicam-mark-v2/mac", session_id, signature)[:3], "big")


def sid_pad(key: bytes, signature: int) -> int:
    """24-bit keystream that encrypts the session id (the signature is the nonce: other content, other pad)."""
    return int.from_bytes(_prf(key, b"mimicam-mark-v2/sid", signature)[:3], "big")


def signature_seed(key: bytes) -> int:
    """Seed of the keyed projections of the content signature."""
    return int.from_bytes(_prf(key, b"mimicam-mark-v2/sig")[:8], "big")
