"""The IBKR username: `data.username` is its documented name, `data.credential` its legacy record key.

In records and in a step's credential arguments; an OAuth 1.0a record has none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from noetl_ib_plugin import IBTokenProvider
from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.credentials.records import parse_record
from noetl_ib_plugin.entry import main, split_credential_fields
from noetl_ib_plugin.errors import CredentialError

from .auth.token_server import verify_jws

ROOT = Path(__file__).resolve().parents[1]


def _record(**names: Any) -> dict[str, Any]:
    data = {"client_id": "c", "key_id": "k", "private_key": "pem", **names}
    return {"name": "ib", "type": "interactive_brokers_oauth", "data": data}


@pytest.mark.parametrize(
    "names",
    [{"username": "alice"}, {"credential": "alice"}, {"username": "alice", "credential": "alice"}],
)
def test_username_and_its_legacy_name_give_the_same_record(names: dict[str, str]) -> None:
    """username, credential, or both with one value: the record's username is that value."""
    data = parse_record(_record(**names)).data
    assert data.username == "alice"  # type: ignore[attr-defined]



def test_the_legacy_name_is_a_record_key_only() -> None:
    """`credential` is read from a record, but the model has no Python alias for the renamed field."""
    data = parse_record(_record(credential="alice")).data
    assert not hasattr(data, "credential") and "credential" not in data.model_dump()


def test_both_names_with_different_values_are_refused_without_echo() -> None:
    """username=alice with credential=bob is a CredentialError on data.username, values unsaid."""
    with pytest.raises(CredentialError) as info:
        parse_record(_record(username="alice-secretish", credential="bob-secretish"))
    err = info.value
    assert err.field == "data.username"
    assert "credential" in err.message and "remove data.credential" in (err.fix or "")
    rendered = str(err) + repr(err) + json.dumps(err.to_dict())
    assert "alice-secretish" not in rendered and "bob-secretish" not in rendered


def test_missing_username_names_the_documented_field() -> None:
    """Neither name given: the error names data.username."""
    with pytest.raises(CredentialError) as info:
        parse_record(_record())
    assert info.value.field == "data.username"


def test_sso_jwt_credential_claim_carries_the_username(
    rsa_key: rsa.RSAPrivateKey, rsa_pem: str
) -> None:
    """IBKR's SSO JWT claim is still named `credential`; its value is data.username."""
    data = {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "username": "alice",
            "api_base_url": "http://127.0.0.1:1"}
    provider = IBTokenProvider(data, cache=MemoryTokenCache())
    _, claims = verify_jws(provider.sso_session_jwt(), rsa_key.public_key())
    assert claims["credential"] == "alice"


def test_step_fields_accept_username_or_the_credential_argument() -> None:
    """entry.main's field form: username= goes into the credential; so does credential=NAME."""
    data, rest = split_credential_fields("interactive_brokers_oauth", {"username": "alice",
                                                                       "symbol": "AAPL"})
    assert data == {"username": "alice"} and rest == {"symbol": "AAPL"}
    data, _ = split_credential_fields("interactive_brokers_oauth", {}, "alice")
    assert data == {"credential": "alice"}


def test_example_record_uses_username() -> None:
    """credentials.example.json documents data.username and parses."""
    record = json.loads((ROOT / "credentials.example.json").read_text())
    assert "username" in record["data"] and "credential" not in record["data"]
    assert parse_record(record).data.username == record["data"]["username"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", ["username", "credential"])
def test_username_in_oauth1a_record_gets_a_scheme_hint(key: str) -> None:
    """data.username / data.credential in an OAuth 1.0a record: remove it (the token names the user)."""
    record = {"name": "ib1", "type": "interactive_brokers_oauth1a",
              "data": {"consumer_key": "ABCDEFGHI", key: "alice"}}
    with pytest.raises(CredentialError) as info:
        parse_record(record)
    assert info.value.field == f"data.{key}"
    fix = info.value.fix or ""
    assert "realm" not in fix
    assert f"remove data.{key}" in fix and "interactive_brokers_oauth" in fix
    assert "alice" not in str(info.value)


FIELDS: dict[str, Any] = {"client_id": "c", "key_id": "k", "private_key": "pem", "username": "alice"}


def test_split_names_the_credential_argument_not_a_record_field() -> None:
    """The error names the step argument `credential` and says to drop it, not to edit a record."""
    with pytest.raises(CredentialError) as info:
        split_credential_fields("interactive_brokers_oauth", FIELDS, "ib_paper")
    assert info.value.field == "credential"
    assert info.value.fix is not None and "credential:" in info.value.fix
    assert "record" not in (info.value.fix or "")
    assert "ib_paper" not in str(info.value) and "alice" not in str(info.value)


def test_same_username_twice_is_accepted() -> None:
    """`credential:` equal to `username:` (old and new name together) still builds the data."""
    data, rest = split_credential_fields("interactive_brokers_oauth", {**FIELDS, "x": 1}, "alice")
    assert data["username"] == "alice" and rest == {"x": 1}


def test_entry_main_reports_the_step_argument() -> None:
    """entry.main's error dict names `credential` (category input) for the conflicting argument."""
    out = main(action="accounts", credential="ib_paper",
               credential_type="interactive_brokers_oauth", **FIELDS)
    assert out["ok"] is False
    assert out["error"]["type"] == "CredentialError"
    assert out["error"]["field"] == "credential"
    assert out["error"]["category"] == "input"
