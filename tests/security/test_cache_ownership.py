"""A token cache another user can touch is refused, never trusted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.errors import ConfigurationError

KEY = "0123456789abcdef0123456789abcdef"
OTHER_UID = 4242
#: chown to another uid needs root (CAP_CHOWN); as a normal user those cases cannot be built.
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root (os.chown); run the suite as root to cover it",
)


def _entry(value: str = "planted-token") -> dict[str, object]:
    """A well-formed OAuth 2.0 entry valid for an hour."""
    now = time.time()
    return {"value": value, "expires_at": now + 3600, "obtained_at": now, "scheme": "oauth2",
            "extra": {}}


def _refused(call: object) -> ConfigurationError:
    """Run `call`; it must raise a ConfigurationError that suggests the memory cache."""
    with pytest.raises(ConfigurationError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == "NOETL_IB_CACHE_DIR"
    assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value)
    return info.value


@needs_root
def test_directory_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A cache directory another uid owns is refused before any planted entry is read."""
    cache_dir = tmp_path / "shared"
    cache_dir.mkdir(mode=0o700)
    (cache_dir / f"{KEY}.json").write_text(json.dumps(_entry()))
    os.chown(cache_dir, OTHER_UID, OTHER_UID)
    error = _refused(lambda: FileTokenCache(cache_dir).load(KEY))
    assert f"uid {OTHER_UID}" in str(error)
    _refused(lambda: FileTokenCache(cache_dir).lock(KEY).__enter__())
    assert os.stat(cache_dir).st_uid == OTHER_UID  # and it was not chmod-ed/taken over either


@needs_root
def test_entry_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A token entry another uid planted in our directory is never returned."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store(KEY, _entry("ours"))
    path = tmp_path / "c" / f"{KEY}.json"
    os.chown(path, OTHER_UID, OTHER_UID)
    error = _refused(lambda: cache.load(KEY))
    assert path.name in str(error)


@needs_root
def test_lock_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A lock file another uid created is refused rather than locked and trusted."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store(KEY, _entry())
    lock = tmp_path / "c" / f"{KEY}.lock"
    lock.write_text("")
    os.chown(lock, OTHER_UID, OTHER_UID)
    with pytest.raises(ConfigurationError), cache.lock(KEY):
        pass


def test_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    """A `.lock` symlink is refused: root is never made to create or lock a file elsewhere."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store(KEY, _entry())
    target = tmp_path / "elsewhere" / "victim"
    target.parent.mkdir()
    (tmp_path / "c" / f"{KEY}.lock").symlink_to(target)
    error = _refused(lambda: cache.lock(KEY).__enter__())
    assert "symbolic link" in str(error)
    assert not target.exists()


def test_entry_symlink_is_not_followed(tmp_path: Path) -> None:
    """A token entry that is a symlink (to a file anyone could write) is refused."""
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(_entry("planted")))
    cache = FileTokenCache(tmp_path / "c")
    cache.store("other", _entry())
    (tmp_path / "c" / f"{KEY}.json").symlink_to(planted)
    error = _refused(lambda: cache.load(KEY))
    assert "symbolic link" in str(error)


def test_cache_directory_symlink_is_refused(tmp_path: Path) -> None:
    """NOETL_IB_CACHE_DIR naming a symlink is refused (the link could be re-pointed)."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    _refused(lambda: FileTokenCache(link).store(KEY, _entry()))


def test_directory_open_to_others_is_made_private(tmp_path: Path) -> None:
    """Our own cache directory with mode 777 is tightened to 700 before it is used."""
    cache_dir = tmp_path / "c"
    cache_dir.mkdir()
    os.chmod(cache_dir, 0o777)
    FileTokenCache(cache_dir).store(KEY, _entry())
    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_planted_fifo_entry_does_not_hang(tmp_path: Path) -> None:
    """A FIFO in place of an entry is refused at once (opened non-blocking), not waited on."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store("other", _entry())
    os.mkfifo(tmp_path / "c" / f"{KEY}.json")
    error = _refused(lambda: cache.load(KEY))
    assert "not a regular file" in str(error)
