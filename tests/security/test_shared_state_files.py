"""The pacing file and the lock files beside the token cache are as guarded as the tokens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.client.brokerage_session import bootstrap_lock
from noetl_ib_plugin.client.pacing import FilePacer
from noetl_ib_plugin.common.file_lock import file_lock
from noetl_ib_plugin.errors import ConfigurationError

from ..client.fakes import FakeClock

KEY = "0123456789abcdef0123456789abcdef"
OTHER_UID = 4242
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root (os.chown); run the suite as root to cover it",
)


def _private_dir(tmp_path: Path) -> Path:
    """A 0700 cache directory this user owns, as FileTokenCache makes it."""
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    return directory


def _refused(call: object) -> ConfigurationError:
    """Run `call`; it must raise a ConfigurationError naming the cache dir and suggesting memory."""
    with pytest.raises(ConfigurationError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == "NOETL_IB_CACHE_DIR"
    assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value)
    return info.value


def _enter(path: Path) -> None:
    """Take and release `file_lock(path)` with a short timeout."""
    with file_lock(path, timeout=1.0):
        pass


def test_brokerage_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    """A planted `<key>-brokerage.lock` symlink is refused; root never creates its target."""
    directory = _private_dir(tmp_path)
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    (directory / f"{KEY}-brokerage.lock").symlink_to(victim)

    def enter() -> None:
        """Enter the single-flight lock of the brokerage bootstrap."""
        with bootstrap_lock(directory, KEY, 1.0):
            pass

    error = _refused(enter)
    assert "symbolic link" in str(error)
    assert not victim.exists()


def test_pacing_lock_symlink_to_existing_file_is_not_locked(tmp_path: Path) -> None:
    """A `-pacing.lock` symlink to an existing file is refused, not opened through."""
    directory = _private_dir(tmp_path)
    target = tmp_path / "target"
    target.write_text("keep")
    (directory / f"{KEY}-pacing.lock").symlink_to(target)
    _refused(lambda: _enter(directory / f"{KEY}-pacing.lock"))
    assert target.read_text() == "keep"


def test_lock_path_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    """A FIFO planted as a lock file is refused at once (no hang, no flock on a pipe)."""
    directory = _private_dir(tmp_path)
    os.mkfifo(directory / f"{KEY}-brokerage.lock")
    error = _refused(lambda: _enter(directory / f"{KEY}-brokerage.lock"))
    assert "not a regular file" in str(error)


def test_lock_path_that_is_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    """A lock path that is a directory is a ConfigurationError, not IsADirectoryError."""
    directory = _private_dir(tmp_path)
    (directory / f"{KEY}-brokerage.lock").mkdir()
    _refused(lambda: _enter(directory / f"{KEY}-brokerage.lock"))


@needs_root
def test_lock_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A pacing/bootstrap lock file another uid created is refused rather than trusted."""
    directory = _private_dir(tmp_path)
    lock = directory / f"{KEY}-pacing.lock"
    lock.write_text("")
    os.chown(lock, OTHER_UID, OTHER_UID)
    error = _refused(lambda: _enter(lock))
    assert f"uid {OTHER_UID}" in str(error)


def _plant_pacing(path: Path, times: list[float]) -> None:
    """Write a pacing file whose `sso_validate` window holds `times` (JSON allows NaN/Infinity)."""
    path.write_text(json.dumps({"v": 1, "sent": {"sso_validate": times, "global": times}}))


@needs_root
def test_pacing_file_owned_by_another_user_is_ignored(tmp_path: Path) -> None:
    """A pacing history another uid wrote is not read: it cannot make our requests wait."""
    directory = _private_dir(tmp_path)
    clock = FakeClock()
    path = directory / f"{KEY}-pacing.json"
    _plant_pacing(path, [clock.now - 1.0])
    os.chown(path, OTHER_UID, OTHER_UID)
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep, margin=0, slack=0)
    assert pacer.acquire("GET", "/sso/validate") == 0.0
    assert os.stat(path).st_uid == os.geteuid()  # replaced by our own file


def test_pacing_file_symlink_is_not_read(tmp_path: Path) -> None:
    """A pacing file that is a symlink is not read (it could point at another user's history)."""
    directory = _private_dir(tmp_path)
    clock = FakeClock()
    planted = tmp_path / "planted.json"
    _plant_pacing(planted, [clock.now - 1.0])
    path = directory / f"{KEY}-pacing.json"
    path.symlink_to(planted)
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep, margin=0, slack=0)
    assert pacer.acquire("GET", "/sso/validate") == 0.0
    assert not path.is_symlink()


@pytest.mark.parametrize("offset", [3600.0, 1e6, float("inf")], ids=["hour", "11-days", "inf"])
def test_pacing_times_in_the_future_wait_at_most_one_window(tmp_path: Path, offset: float) -> None:
    """Send times ahead of now (clock stepped back, damaged file) wait one window at most, no crash."""
    clock = FakeClock()
    path = _private_dir(tmp_path) / f"{KEY}-pacing.json"
    _plant_pacing(path, [clock.now + offset])
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep, margin=0, slack=0)
    waited = pacer.acquire("GET", "/sso/validate")
    assert 0.0 <= waited <= 60.0
    assert all(0.0 <= s <= 60.0 for s in clock.sleeps)


def test_pacing_nan_times_are_dropped(tmp_path: Path) -> None:
    """NaN send times in a pacing file are ignored, and the next write holds only finite times."""
    clock = FakeClock()
    path = _private_dir(tmp_path) / f"{KEY}-pacing.json"
    _plant_pacing(path, [float("nan")])
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep, margin=0, slack=0)
    assert pacer.acquire("GET", "/sso/validate") == 0.0
    assert "NaN" not in path.read_text()


@needs_root
def test_cache_under_a_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    """A cache dir whose parent another uid owns is refused: that user could swap it for a symlink."""
    parent = tmp_path / "theirs"
    parent.mkdir(mode=0o755)
    os.chown(parent, OTHER_UID, OTHER_UID)
    error = _refused(lambda: FileTokenCache(parent / "cache").load(KEY))
    assert f"uid {OTHER_UID}" in str(error) and "theirs" in str(error)


def test_cache_under_a_world_writable_non_sticky_directory_is_refused(tmp_path: Path) -> None:
    """A parent mode 0777 without the sticky bit lets anyone rename the cache dir: refused."""
    parent = tmp_path / "open"
    parent.mkdir()
    os.chmod(parent, 0o777)
    error = _refused(lambda: FileTokenCache(parent / "cache").load(KEY))
    assert "writable by group or others" in str(error)


def test_cache_under_a_sticky_world_writable_directory_is_accepted(tmp_path: Path) -> None:
    """A sticky 1777 parent (like /tmp) is fine: others cannot rename our directory in it."""
    parent = tmp_path / "sticky"
    parent.mkdir()
    os.chmod(parent, 0o1777)
    assert FileTokenCache(parent / "cache").load(KEY) is None
