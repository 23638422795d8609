import os
import stat

import pytest

from mimicam.realtime.errors import InputError
from mimicam.realtime.provenance.keys import (KEY_BYTES, LooseKeyWarning, fingerprint, load_keys,
                                              load_or_create_key, mac24, rotate_key, sid_pad)


def test_key_created_0600_and_never_overwritten(tmp_path):
    key = load_or_create_key(tmp_path / "cfg")
    path = tmp_path / "cfg" / "watermark.key"
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path / "cfg") == key
    assert load_or_create_key(tmp_path / "other") != key


def test_env_var_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICAM_CONFIG_DIR", str(tmp_path / "env"))
    key = load_or_create_key()
    assert (tmp_path / "env" / "watermark.key").read_bytes() == key


def test_corrupt_key_is_a_clear_error(tmp_path):
    (tmp_path / "watermark.key").write_bytes(b"short")
    os.chmod(tmp_path / "watermark.key", 0o600)
    with pytest.raises(InputError, match="expected 32"):
        load_or_create_key(tmp_path)


def test_loose_key_file_mode_warns(tmp_path):
    key = load_or_create_key(tmp_path)
    os.chmod(tmp_path / "watermark.key", 0o644)
    with pytest.warns(LooseKeyWarning, match="chmod 600"):
        assert load_or_create_key(tmp_path) == key
    with pytest.warns(LooseKeyWarning):
        load_keys(tmp_path)


def test_load_keys_never_creates(tmp_path):
    assert load_keys(tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


def test_rotate_deletes_old_key_unless_kept(tmp_path):
    first = load_or_create_key(tmp_path)
    second, kept = rotate_key(tmp_path)
    assert kept is None and second != first and load_keys(tmp_path) == [("current", second)]
    third, kept = rotate_key(tmp_path, keep_old=True)
    assert kept is not None and kept.read_bytes() == second and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert fingerprint(second) in kept.name
    names = load_keys(tmp_path)
    assert names[0] == ("current", third) and names[1] == (f"retired:{kept.name}", second)


def test_mac_and_pad_depend_on_key_session_and_signature():
    base = mac24(b"a" * 32, 1, 2)
    assert 0 <= base < 1 << 24
    assert len({base, mac24(b"b" * 32, 1, 2), mac24(b"a" * 32, 2, 2), mac24(b"a" * 32, 1, 3)}) == 4
    assert len({sid_pad(b"a" * 32, 2), sid_pad(b"a" * 32, 3), sid_pad(b"b" * 32, 2)}) == 3
