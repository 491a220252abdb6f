"""Alias files or directories others can write, or another user owns, are refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from noetl_ib_plugin.credentials import AliasStore
from noetl_ib_plugin.errors import ConfigurationError

RECORD = {"name": "ib", "type": "interactive_brokers_oauth",
          "data": {"client_id": "c", "key_id": "k", "private_key_path": "/x", "credential": "u",
                   "token_url": "https://evil.example/token"}}
OTHER_UID = 4242
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root (os.chown); run the suite as root to cover it",
)


def _alias(tmp_path: Path, *, dir_mode: int = 0o700, file_mode: int = 0o600) -> tuple[Path, Path]:
    """An alias directory holding one record `ib`, with the given modes."""
    directory = tmp_path / "aliases with space"
    directory.mkdir()
    path = directory / "ib"
    path.write_text(json.dumps(RECORD))
    os.chmod(path, file_mode)
    os.chmod(directory, dir_mode)
    return directory, path


def _refusal(directory: Path) -> ConfigurationError:
    """Look `ib` up; the store must refuse it with a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        AliasStore(directory, os.environ).find("ib")
    return info.value


def _run_fix(error: ConfigurationError) -> str:
    """Run the command the fix names, exactly as written, in a shell; return it."""
    assert error.fix is not None
    match = re.search(r"`([^`]+)`", error.fix)
    assert match, error.fix
    subprocess.run(match.group(1), shell=True, check=True, timeout=30)
    return match.group(1)


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_alias_file_writable_by_others_is_refused_and_the_fix_works(tmp_path: Path, mode: int) -> None:
    """A group/other-writable alias file is refused; running the fix's chmod makes it load."""
    directory, _ = _alias(tmp_path, file_mode=mode)
    error = _refusal(directory)
    assert error.field == "credential" and "writable by group or others" in str(error)
    command = _run_fix(error)
    assert command.startswith("chmod 600 ")
    assert AliasStore(directory, os.environ).find("ib") is not None


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_alias_directory_writable_by_others_is_refused_and_the_fix_works(tmp_path: Path,
                                                                          mode: int) -> None:
    """A group/other-writable alias directory is refused (a file could be swapped in) until chmod 700."""
    directory, _ = _alias(tmp_path, dir_mode=mode)
    error = _refusal(directory)
    assert error.field == "NOETL_CREDENTIALS_DIR"
    assert _run_fix(error).startswith("chmod 700 ")
    assert AliasStore(directory, os.environ).find("ib") is not None


@needs_root
def test_alias_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """An alias file another uid owns is refused with a chown fix that makes it load."""
    directory, path = _alias(tmp_path)
    os.chown(path, OTHER_UID, OTHER_UID)
    error = _refusal(directory)
    assert f"uid {OTHER_UID}" in str(error)
    assert _run_fix(error).startswith("chown ")
    assert AliasStore(directory, os.environ).find("ib") is not None


@needs_root
def test_alias_directory_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """An alias directory another uid owns is refused even if the file is ours and private."""
    directory, _ = _alias(tmp_path)
    os.chown(directory, OTHER_UID, OTHER_UID)
    error = _refusal(directory)
    assert error.field == "NOETL_CREDENTIALS_DIR"
    _run_fix(error)
    assert AliasStore(directory, os.environ).find("ib") is not None


def test_private_alias_still_loads(tmp_path: Path) -> None:
    """The safe layout (700 directory, 600 file, ours) loads as before."""
    directory, _ = _alias(tmp_path)
    found = AliasStore(directory, os.environ).find("ib")
    assert found is not None and found["data"]["client_id"] == "c"
