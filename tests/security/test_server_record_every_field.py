"""Issue 25 review: a hostile NoETL server rewrites each field of the credential record it serves.

Every rewrite ends the step with one typed JSON error (exit 2 for a record that is not usable,
naming the field), in seconds, without a traceback, without echoing the planted value and
without a request to anything but the NoETL server itself.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.cli.helpers import cli, process_env

from .test_server_records_local import Recording, server

__all__ = ["server"]  # the recording NoETL server fixture

PLANTED = "planted-7f3e"


def _record(rsa_pem: str, **data: Any) -> dict[str, Any]:
    return {"name": "ib_paper", "type": "interactive_brokers_oauth",
            "data": {"client_id": "C", "key_id": "K", "credential": "u", "private_key": rsa_pem,
                     **data}}


#: (what the server rewrote, the record it serves given the key PEM, the field the error names)
REWRITES: list[tuple[str, Any, str]] = [
    ("record-string", lambda pem: PLANTED, "NOETL_SERVER_URL"),  # not a record: the server is wrong
    ("record-list", lambda pem: [PLANTED], "NOETL_SERVER_URL"),
    ("name-number", lambda pem: {**_record(pem), "name": 7}, "name"),
    ("name-other", lambda pem: {**_record(pem), "name": f"ib_{PLANTED}"}, "name"),
    ("type-unknown", lambda pem: {**_record(pem), "type": f"$(touch /tmp/{PLANTED})"}, "type"),
    ("type-number", lambda pem: {**_record(pem), "type": 7}, "type"),
    ("data-string", lambda pem: {**_record(pem), "data": PLANTED}, "data"),
    ("private-key-garbage", lambda pem: _record(pem, private_key=PLANTED), "data.private_key"),
    ("private-key-number", lambda pem: _record(pem, private_key=7), "data.private_key"),
    ("client-id-crlf", lambda pem: _record(pem, client_id=f"C\r\nX: {PLANTED}"), "data.client_id"),
    ("api-base-remote-http", lambda pem: _record(pem, api_base_url=f"http://{PLANTED}.example"),
     "data.api_base_url"),
    ("api-base-userinfo", lambda pem: _record(pem, api_base_url=f"https://u:{PLANTED}@x.example"),
     "data.api_base_url"),
    ("api-base-file", lambda pem: _record(pem, api_base_url=f"file:///etc/{PLANTED}"),
     "data.api_base_url"),
    ("token-url-remote-http", lambda pem: _record(pem, token_url=f"http://{PLANTED}.example/t"),
     "data.token_url"),
    ("account-traversal", lambda pem: _record(pem, account_id=f"DU1234567/../{PLANTED}"),
     "data.account_id"),
    ("account-number", lambda pem: _record(pem, account_id=1234567), "data.account_id"),
    ("key-path", lambda pem: _record(pem, private_key_path=f"/etc/{PLANTED}"),
     "data.private_key_path"),
    ("unknown-file-field", lambda pem: _record(pem, ca_bundle_file=f"/etc/{PLANTED}"),
     "data.ca_bundle_file"),
]


@pytest.mark.parametrize(("name", "served", "field"), REWRITES, ids=[r[0] for r in REWRITES])
def test_one_rewritten_record_field_is_a_typed_error_naming_it(
    server: Recording, rsa_pem: str, name: str, served: Any, field: str
) -> None:
    """Each rewritten record field: exit 2 naming the field, fast, no echo, nothing sent elsewhere."""
    server.credentials["ib_paper"] = served(rsa_pem)
    started = time.monotonic()
    done = cli("run", "get_positions", "-c", "ib_paper",
               env=process_env(NOETL_SERVER_URL=server.url), timeout=60)
    took = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    error = json.loads(done.stderr.splitlines()[-1])["error"]
    assert (done.returncode, error.get("field")) == (2, field), (name, error)
    assert PLANTED not in done.stderr and done.stdout == ""
    assert server.seen == ["GET /api/credentials/ib_paper"]
    assert took < 30
