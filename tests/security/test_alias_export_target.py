"""`token --export-alias` never writes a bearer into, or chmods, a directory another user owns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noetl_ib_plugin.cli.alias import write_alias
from noetl_ib_plugin.errors import ConfigurationError

OTHER_UID = 4242


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a directory to another user needs root (os.chown)")
def test_export_alias_refuses_a_directory_owned_by_another_user(tmp_path: Path) -> None:
    """The bearer is not written there and root does not chmod the other user's directory."""
    directory = tmp_path / "aliases"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    os.chown(directory, OTHER_UID, OTHER_UID)
    with pytest.raises(ConfigurationError) as info:
        write_alias("ib_bearer", "bearer-canary-91c2", directory)
    assert info.value.field == "NOETL_CREDENTIALS_DIR"
    assert f"uid {OTHER_UID}" in str(info.value) and "bearer-canary" not in str(info.value)
    assert os.listdir(directory) == []
    assert os.stat(directory).st_mode & 0o777 == 0o755


def test_export_alias_into_a_private_directory_still_works(tmp_path: Path) -> None:
    """Our own directory open to others is tightened to 700 and the bearer written 600."""
    directory = tmp_path / "aliases"
    directory.mkdir()
    os.chmod(directory, 0o777)
    path = write_alias("ib_bearer", "tok", directory)
    assert path.read_text() == "tok\n" and os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(directory).st_mode & 0o777 == 0o700
