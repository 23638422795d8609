import stat

import pytest

from mimicam.realtime.errors import InputError
from mimicam.realtime.provenance.keys import KEY_BYTES, load_or_create_key, mac24


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
    with pytest.raises(InputError, match="expected 32"):
        load_or_create_key(tmp_path)


def test_mac_depends_on_key_session_and_epoch():
    base = mac24(b"a" * 32, 1, 2)
    assert 0 <= base < 1 << 24
    assert len({base, mac24(b"b" * 32, 1, 2), mac24(b"a" * 32, 2, 2), mac24(b"a" * 32, 1, 3)}) == 4
