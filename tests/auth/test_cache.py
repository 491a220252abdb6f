"""Token cache selection and the file cache's on-disk contract."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache, MemoryTokenCache
from noetl_ib_plugin.errors import ConfigurationError
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings


def default_cache_dir() -> Path:
    """Where the front doors' settings put the token cache."""
    return Settings.from_environ(os.environ).cache_dir


def default_cache() -> object:
    """The token cache a host built from the environment picks."""
    return Host(Settings.from_environ(os.environ)).token_cache()


def test_cache_dir_follows_env_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_IB_CACHE_DIR wins; else $XDG_CACHE_HOME/noetl-ib."""
    monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("NOETL_IB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "noetl-ib"


def test_memory_mode_and_unknown_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_IB_TOKEN_CACHE=memory gives a process-local cache; a typo is a named error."""
    monkeypatch.setenv("NOETL_IB_TOKEN_CACHE", "memory")
    assert isinstance(default_cache(), MemoryTokenCache)
    monkeypatch.setenv("NOETL_IB_TOKEN_CACHE", "disk")
    with pytest.raises(ConfigurationError) as info:
        default_cache()
    assert info.value.field == "NOETL_IB_TOKEN_CACHE"
    monkeypatch.setenv("NOETL_IB_TOKEN_CACHE", "file")
    assert isinstance(default_cache(), FileTokenCache)


def test_store_is_atomic_private_and_tolerates_damage(tmp_path: Path) -> None:
    """Entries are 0600 JSON replaced atomically; a corrupt entry reads as a miss."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store("abc123", {"value": "v", "n": 1})
    path = tmp_path / "c" / "abc123.json"
    assert json.loads(path.read_text()) == {"value": "v", "n": 1}
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o700
    assert not [p for p in os.listdir(tmp_path / "c") if p.endswith(".tmp")]
    path.write_text("{not json")
    assert cache.load("abc123") is None
    cache.delete("abc123")
    cache.delete("abc123")  # deleting twice is fine
    assert cache.load("abc123") is None


def test_keys_must_be_fingerprints(tmp_path: Path) -> None:
    """A key that could escape the directory is refused."""
    with pytest.raises(ValueError):
        FileTokenCache(tmp_path).load("../etc/passwd")


def test_unwritable_cache_dir_is_a_named_error(tmp_path: Path) -> None:
    """A cache directory that cannot be created says which variable to change."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError) as info:
        FileTokenCache(blocker / "sub").store("k", {})
    assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value)
