"""Files a credential names (records file, key files) are bounded, regular and only yours."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from noetl_ib_plugin.credentials.keys import read_key_file
from noetl_ib_plugin.credentials.stores import FileStore
from noetl_ib_plugin.errors import CredentialError, IBPluginError

OTHER_UID = 4242
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root (os.chown); run the suite as root to cover it",
)
RECORD = {"name": "ib", "type": "ibkr_oauth2", "data": {"token_url": "https://evil.example/t"}}


def _error_within(call: Callable[[], object], seconds: float = 60.0) -> IBPluginError:
    """Run `call` in a daemon thread; it must end (no hang) by raising a plugin error."""
    caught: list[BaseException] = []

    def run() -> None:
        """Record what `call` raised."""
        try:
            call()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "reading the file blocked"
    assert len(caught) == 1 and isinstance(caught[0], IBPluginError), caught
    return caught[0]


def _records_file(tmp_path: Path, mode: int = 0o600) -> Path:
    """A one-record credentials file with `mode`."""
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(RECORD))
    path.chmod(mode)
    return path


def test_credentials_file_fifo_does_not_hang(tmp_path: Path) -> None:
    """A FIFO given as --credentials-file is refused at once, naming credentials_file."""
    fifo = tmp_path / "creds.fifo"
    os.mkfifo(fifo)
    error = _error_within(lambda: FileStore(fifo).find("ib"))
    assert isinstance(error, CredentialError) and error.field == "credentials_file"
    assert "regular file" in str(error)


def test_credentials_file_larger_than_1_mib_is_refused(tmp_path: Path) -> None:
    """A 2 MiB credentials file is not read whole: a typed error naming the bound."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**RECORD, "pad": "x" * (2 << 20)}))
    path.chmod(0o600)
    error = _error_within(lambda: FileStore(path).find("ib"))
    assert error.field == "credentials_file" and "1048576 bytes" in str(error)


def test_credentials_file_writable_by_others_is_refused_and_the_fix_works(tmp_path: Path) -> None:
    """A 0666 credentials file is refused (anyone could redirect token_url); the printed chmod fixes it."""
    path = _records_file(tmp_path, 0o666)
    error = _error_within(lambda: FileStore(path).find("ib"))
    assert error.field == "credentials_file" and "writable by group or others" in str(error)
    command = re.search(r"`([^`]+)`", str(error))
    assert command is not None and command.group(1).startswith("chmod 600 ")
    subprocess.run(command.group(1), shell=True, check=True)
    assert FileStore(path).find("ib") == RECORD


@needs_root
def test_credentials_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A credentials file another uid owns is refused before any record in it is used."""
    path = _records_file(tmp_path)
    os.chown(path, OTHER_UID, OTHER_UID)
    error = _error_within(lambda: FileStore(path).find("ib"))
    assert error.field == "credentials_file" and f"uid {OTHER_UID}" in str(error)
    assert "chown " in str(error)


def test_key_file_fifo_does_not_hang(tmp_path: Path) -> None:
    """A FIFO as private_key_path is a CredentialError naming the field, at once."""
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    error = _error_within(lambda: read_key_file(str(fifo), "data.private_key_path"))
    assert error.field == "data.private_key_path" and "regular file" in str(error)


def test_key_file_larger_than_64_kib_is_refused(tmp_path: Path) -> None:
    """A 100 KiB key file is refused with the bound, never read whole (think /dev/zero)."""
    path = tmp_path / "key.pem"
    path.write_text("A" * 100_000)
    error = _error_within(lambda: read_key_file(str(path), "data.private_key_path"))
    assert error.field == "data.private_key_path" and "65536 bytes" in str(error)


def test_key_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    """`/dev/zero` as a key path is refused (it would otherwise be read until memory runs out)."""
    del tmp_path
    error = _error_within(lambda: read_key_file("/dev/zero", "data.private_key_path"))
    assert error.field == "data.private_key_path" and "regular file" in str(error)
