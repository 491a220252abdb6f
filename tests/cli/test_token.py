"""`noetl-ib token`: metadata without the token, and the bearer export NoETL http steps read."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from noetl_ib_plugin.cli.alias import validate_alias, write_alias
from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.wiring.settings import credentials_dir_from

from .helpers import cached_secrets, cli, one_json


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_prints_masked_metadata(sim_env: Simulator, tmp_path: Path) -> None:
    """`token` reports scheme, expiry and cache use, and the token only as a masked fingerprint."""
    first = one_json(cli("token", "--credential", "sim_oauth2").stdout)
    second = one_json(cli("token", "--credential", "sim_oauth2").stdout)
    assert first["scheme"] == "oauth2"
    assert first["from_cache"] is False
    assert second["from_cache"] is True
    assert first["token"].startswith("<secret len=")
    assert first["expires_at"] > first["obtained_at"]
    for secret in cached_secrets(tmp_path / "token-cache"):
        assert secret not in json.dumps(first) + json.dumps(second)
    assert sim_env.stats()["oauth2_token_requests"] == 1


def test_refresh_replaces_the_cached_token(sim_env: Simulator) -> None:
    """`token --refresh` drops the shared cache entry and fetches exactly one new token."""
    one_json(cli("token", "--credential", "sim_oauth2").stdout)
    refreshed = one_json(cli("token", "--credential", "sim_oauth2", "--refresh").stdout)
    again = one_json(cli("token", "--credential", "sim_oauth2").stdout)
    assert refreshed["from_cache"] is False and again["from_cache"] is True
    assert refreshed["token"] == again["token"]
    assert sim_env.stats()["oauth2_token_requests"] == 2


def test_export_alias_writes_the_raw_bearer_mode_600(sim_env: Simulator, tmp_path: Path) -> None:
    """The alias file is the bearer plus a newline (what `noetl credential set` writes), mode 600, dir 700."""
    proc = cli("token", "--credential", "sim_oauth2", "--export-alias", "ib_bearer")
    assert proc.returncode == 0, proc.stderr
    out = one_json(proc.stdout)
    path = tmp_path / "noetl-credentials" / "ib_bearer"
    assert out["exported"]["path"] == str(path)
    assert out["exported"]["use"] == {"auth": {"type": "bearer", "credential": "ib_bearer"}}
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    bearer = path.read_text()
    assert bearer.endswith("\n") and bearer.count("\n") == 1
    cache = next((tmp_path / "token-cache").glob("*.json"))
    assert bearer.strip() == json.loads(cache.read_text())["value"]
    assert bearer.strip() not in proc.stdout + proc.stderr


def test_export_alias_refuses_oauth1a(sim_env: Simulator, tmp_path: Path) -> None:
    """OAuth 1.0a has no reusable bearer: exit 2, the error says why, nothing is written."""
    proc = cli("token", "--credential", "sim_oauth1a", "--export-alias", "ib_lst")
    assert proc.returncode == 2
    assert proc.stdout == ""
    message = json.loads(proc.stderr.strip().splitlines()[-1])["error"]["message"]
    assert "signs every request" in message
    assert not (tmp_path / "noetl-credentials" / "ib_lst").exists()
    assert sim_env.stats()["lst_requests"] == 0


def test_write_alias_replaces_atomically_and_tightens_dir(tmp_path: Path) -> None:
    """Rewriting an alias replaces the file whole and leaves no temp files; a loose dir becomes 700."""
    directory = tmp_path / "creds"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    write_alias("a", "first", directory)
    path = write_alias("a", "second-token", directory)
    assert path.read_text() == "second-token\n"
    assert sorted(p.name for p in directory.iterdir()) == ["a"]
    assert _mode(directory) == 0o700
    assert _mode(path) == 0o600


@pytest.mark.parametrize("alias", ["", "..", "a/b", "../x", "-x", "a b"])
def test_alias_names_are_plain_file_names(alias: str) -> None:
    """An alias can never escape the credentials directory."""
    with pytest.raises(InputError):
        validate_alias(alias)


def test_alias_directory_follows_noetl_lookup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$NOETL_CREDENTIALS_DIR, else $XDG_CONFIG_HOME/noetl/credentials, else ~/.config/noetl/credentials."""
    monkeypatch.setenv("NOETL_CREDENTIALS_DIR", str(tmp_path / "explicit"))
    assert credentials_dir_from(os.environ) == tmp_path / "explicit"
    monkeypatch.delenv("NOETL_CREDENTIALS_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert credentials_dir_from(os.environ) == tmp_path / "xdg" / "noetl" / "credentials"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert credentials_dir_from(os.environ) == tmp_path / "home" / ".config" / "noetl" / "credentials"


def test_simulator_command_announces_itself_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`noetl-ib simulator --port 0` prints one ready line (url, credentials_file, pid); SIGTERM exits 0."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "noetl_ib_plugin.cli", "simulator", "--port", "0",
         "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["url"].startswith("http://127.0.0.1:")
        assert Path(ready["credentials_file"]).exists()
        assert ready["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
