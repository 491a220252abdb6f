"""Issue 25 input 6: a record from a NoETL server may not name local files, and a record whose
name differs from the one asked for is refused, before any key is read or any request sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.credentials import load_credential
from noetl_ib_plugin.credentials.server_records import check_server_record
from noetl_ib_plugin.credentials.stores import ServerStore
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import CredentialError
from tests.cli.helpers import cli, process_env
from tests.e2e.noetl_server import NoetlServer

HEX_PRIME = "f" * 512


class Recording(NoetlServer):
    """The stand-in NoETL server, remembering every request line it got (any route)."""

    seen: list[str]

    def dispatch(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        self.seen.append(f"{method} {path.split('?', maxsplit=1)[0]}")
        return super().dispatch(method, path, raw)


@pytest.fixture
def server() -> Iterator[Recording]:
    """A NoETL server stand-in that records every request."""
    started = Recording()
    started.seen = []
    started.start()
    yield started
    started.stop()


@pytest.fixture
def local_key(tmp_path: Path, rsa_pem: str) -> Path:
    """A 0600 private key that exists only on this machine."""
    path = tmp_path / "worker-only.pem"
    path.write_text(rsa_pem)
    path.chmod(0o600)
    return path


def _oauth2(server: NoetlServer, name: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "type": "interactive_brokers_oauth",
            "data": {"client_id": "C", "key_id": "K", "credential": "u",
                     "token_url": f"{server.url}/api/token", **data}}


def test_hostile_record_under_another_name_reading_a_local_key_is_refused(
    server: Recording, local_key: Path
) -> None:
    """ib_paper answered by a record "other" naming a local key: exit 2, nothing signed or posted."""
    server.credentials["ib_paper"] = _oauth2(server, "other", private_key_path=str(local_key))
    done = cli("run", "get_positions", "-c", "ib_paper",
               env=process_env(NOETL_SERVER_URL=server.url))
    error = json.loads(done.stderr.splitlines()[-1])["error"]
    assert (done.returncode, error["type"], error["field"]) == (2, "CredentialError", "name")
    assert "Fix: register the record under the name the step asks for ('ib_paper')" in error["message"]
    assert server.seen == ["GET /api/credentials/ib_paper"]  # no token request to the server


def test_record_named_right_but_reading_a_local_key_is_refused(
    server: Recording, local_key: Path
) -> None:
    """The right name does not make a local key path acceptable from a server."""
    server.register(_oauth2(server, "ib_paper", private_key_path=str(local_key)))
    done = cli("run", "get_positions", "-c", "ib_paper",
               env=process_env(NOETL_SERVER_URL=server.url))
    error = json.loads(done.stderr.splitlines()[-1])["error"]
    assert (done.returncode, error["field"]) == (2, "data.private_key_path")
    assert "(data.private_key instead of" in error["message"] and str(local_key) not in done.stderr
    assert server.seen == ["GET /api/credentials/ib_paper"]


def _oauth1a(name: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "type": "interactive_brokers_oauth1a",
            "data": {"consumer_key": "TESTCONS", "access_token": "a", "access_token_secret": "b",
                     "signature_key": "x", "encryption_key": "y", "dh_prime": HEX_PRIME, **data}}


@pytest.mark.parametrize(("field", "value"), [
    ("signature_key_path", "/home/worker/sig.pem"),
    ("encryption_key_path", "~/.ssh/enc.pem"),
    ("dh_prime", "/etc/ibkr/dhparam.pem"),
    ("dh_prime", "dhparam.pem"),
    ("secrets_file", "/etc/passwd"),
])
def test_every_local_file_field_of_a_server_record_is_refused(
    server: Recording, field: str, value: str
) -> None:
    """Key paths, a dh_prime that is a path, any *_file/_path/_dir field: CredentialError naming it."""
    record = _oauth1a("ib_1a", **{field: value})
    if field.endswith("_path"):
        record["data"].pop(field.removesuffix("_path"))
    server.register(record)
    with pytest.raises(CredentialError) as info:
        load_credential("ib_1a", store=ServerStore(server.url))
    assert info.value.field == f"data.{field}"
    assert value not in str(info.value)


@pytest.mark.parametrize("prime", [HEX_PRIME, "-----BEGIN DH PARAMETERS-----\nMIIB\n-----END DH "
                                   "PARAMETERS-----", "prime:\n    00:ff:ff\n"])
def test_inline_dh_prime_from_a_server_is_not_a_file(prime: str) -> None:
    """A hex or PEM dh_prime in a server record passes the file rule (its own checks still run)."""
    check_server_record("ib_1a", _oauth1a("ib_1a", dh_prime=prime), "s")  # does not raise


@pytest.mark.parametrize("form", ["object", "fields"])
def test_a_worker_steps_credential_may_not_name_local_files(
    server: Recording, local_key: Path, form: str, restore_root_logging: None
) -> None:
    """Under a worker (server known), a keychain object or fields naming a key file: refused."""
    data = {"client_id": "C", "key_id": "K", "credential": "u",
            "private_key_path": str(local_key), "token_url": f"{server.url}/api/token"}
    if form == "object":
        args: dict[str, Any] = {"credential": {"name": "ib_paper",
                                               "type": "interactive_brokers_oauth", "data": data}}
    else:
        fields = dict(data)
        args = {"credential": fields.pop("credential"),
                "credential_type": "interactive_brokers_oauth", **fields}
    out = main("get_positions", server_url=server.url, execution_id="7", **args)
    assert out["ok"] is False
    assert out["error"]["field"] == "data.private_key_path"
    assert server.seen == []  # nothing signed, nothing posted
