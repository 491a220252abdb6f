"""Credential records: shapes NoETL stores, typed errors naming field and fix, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from noetl_ib_plugin.credentials import OAuth1aData, OAuth2Data, parse_record
from noetl_ib_plugin.errors import CredentialError

ROOT = Path(__file__).resolve().parents[1]


def _oauth2(**data: Any) -> dict[str, Any]:
    base = {"client_id": "cid", "key_id": "kid", "private_key": "x", "credential": "user"}
    base.update(data)
    return {"name": "ib", "type": "interactive_brokers_oauth", "data": base}


def _pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


def test_example_file_is_a_valid_oauth2_record_in_noetl_shape() -> None:
    """credentials.example.json parses, has exactly NoETL's record keys, and holds placeholders only."""
    raw = json.loads((ROOT / "credentials.example.json").read_text())
    assert set(raw) == {"name", "type", "description", "tags", "data"}
    record = parse_record(raw)
    assert isinstance(record.data, OAuth2Data)
    assert record.data.environment == "paper"
    assert "PRIVATE KEY" not in json.dumps(raw)


def test_oauth1a_example_parses() -> None:
    """The OAuth 1.0a example record validates (structure only; its key paths are placeholders)."""
    raw = json.loads((ROOT / "examples/credentials/oauth1a.example.json").read_text())
    record = parse_record(raw)
    assert isinstance(record.data, OAuth1aData)
    assert record.data.resolved_realm == "limited_poa"


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://api.ibkr.com", "https://api.ibkr.com"),
        ("https://api.ibkr.com/", "https://api.ibkr.com"),
        ("https://api.ibkr.com/v1", "https://api.ibkr.com"),
        ("https://api.ibkr.com/v1/api/", "https://api.ibkr.com"),
        ("http://127.0.0.1:8765/v1/api", "http://127.0.0.1:8765"),
        ("http://localhost:5000", "http://localhost:5000"),
    ],
)
def test_api_base_url_accepts_host_root_and_seed_styles(given: str, root: str) -> None:
    """Host roots and seed-style `/v1` or `/v1/api` values all normalise to the host root."""
    data = parse_record(_oauth2(api_base_url=given)).data
    assert isinstance(data, OAuth2Data)
    assert data.api_base_url == root
    assert data.trading_base_url == f"{root}/v1/api"
    assert data.resolved_token_url == f"{root}/oauth2/api/v1/token"
    assert data.resolved_sso_session_url == f"{root}/gw/api/v1/sso-sessions"


def test_plain_http_to_a_remote_host_is_refused() -> None:
    """Tokens never travel in clear text: http is only for loopback simulators."""
    with pytest.raises(CredentialError) as info:
        parse_record(_oauth2(api_base_url="http://api.ibkr.com"))
    assert info.value.field == "data.api_base_url"
    assert "https" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("client_id"), "data.client_id"),
        (lambda d: d.pop("credential"), "data.username"),  # the documented name
        (lambda d: d.update(environment="prod"), "data.environment"),
        (lambda d: d.update(client_idd="typo"), "data.client_idd"),
        (lambda d: d.update(key_id=""), "data.key_id"),
    ],
)
def test_bad_fields_are_named(mutate: Any, field: str) -> None:
    """Missing, unknown, mistyped or empty fields raise CredentialError naming the field and a fix."""
    raw = _oauth2()
    mutate(raw["data"])
    with pytest.raises(CredentialError) as info:
        parse_record(raw)
    assert info.value.field == field
    assert info.value.fix


def test_missing_key_and_both_key_sources_are_explained() -> None:
    """Exactly one of private_key and private_key_path is required."""
    raw = _oauth2()
    del raw["data"]["private_key"]
    with pytest.raises(CredentialError, match="private_key_path"):
        parse_record(raw)
    with pytest.raises(CredentialError, match="not both"):
        parse_record(_oauth2(private_key_path="/k.pem"))


def test_unknown_type_lists_known_types() -> None:
    """An unknown type names the field and lists what is installed."""
    with pytest.raises(CredentialError) as info:
        parse_record({"name": "x", "type": "ibkr_magic", "data": {}})
    assert info.value.field == "type"
    assert "interactive_brokers_oauth1a" in str(info.value)


def test_non_object_record_and_data_are_typed_errors() -> None:
    """Garbage instead of a record is a CredentialError, not a crash."""
    for raw, field in (
        ([1, 2], "record"),
        ({"type": "interactive_brokers_oauth"}, "name"),
        (
            {"name": "x", "type": "interactive_brokers_oauth", "data": "s"},
            "data",
        ),
    ):
        with pytest.raises(CredentialError) as info:
            parse_record(raw)  # type: ignore[arg-type]
        assert info.value.field == field


def _key_error(pem: str) -> CredentialError:
    data = parse_record(_oauth2(private_key=pem)).data
    assert isinstance(data, OAuth2Data)
    with pytest.raises(CredentialError) as info:
        data.check()
    return info.value


def test_truncated_pem_says_so_without_printing_it(rsa_pem: str) -> None:
    """A damaged PEM is reported as unparsable and no line of it appears in the error."""
    truncated = rsa_pem[: len(rsa_pem) // 2] + "\n-----END PRIVATE KEY-----\n"
    err = _key_error(truncated)
    assert err.field == "data.private_key"
    assert "does not parse" in str(err)
    for line in truncated.splitlines()[1:-1]:
        assert line not in str(err) and line not in repr(err)


def test_ec_key_is_refused_as_not_rsa() -> None:
    """An EC key is named as such with the fix (generate RSA)."""
    err = _key_error(_pem(ec.generate_private_key(ec.SECP256R1())))
    assert "not RSA" in str(err) and "openssl genpkey" in str(err)


def test_small_rsa_key_is_refused() -> None:
    """RSA keys under 2048 bits are refused with their size."""
    err = _key_error(_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    assert "1024-bit" in str(err)


def test_encrypted_key_is_explained() -> None:
    """A passphrase-protected key gets the openssl command that removes the passphrase."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    assert "encrypted" in str(_key_error(pem))


def test_key_path_missing_names_the_path_field(tmp_path: Path) -> None:
    """A private_key_path that does not exist is reported against that field."""
    raw = _oauth2()
    del raw["data"]["private_key"]
    raw["data"]["private_key_path"] = str(tmp_path / "nope.pem")
    data = parse_record(raw).data
    assert isinstance(data, OAuth2Data)
    with pytest.raises(CredentialError) as info:
        data.check()
    assert info.value.field == "data.private_key_path"


def test_key_from_path_with_escaped_newlines_loads(tmp_path: Path, rsa_pem: str) -> None:
    """PEMs pasted with literal '\\n' (as JSON strings often are) still parse."""
    data = parse_record(_oauth2(private_key=rsa_pem.replace("\n", "\\n"))).data
    assert isinstance(data, OAuth2Data)
    assert data.rsa_key().key_size == 2048


def test_secrets_are_masked_in_repr_str_and_dumps(rsa_pem: str) -> None:
    """repr, str, model_dump_json and the record repr never contain the key."""
    record = parse_record(_oauth2(private_key=rsa_pem))
    line = rsa_pem.splitlines()[3]
    for text in (
        repr(record),
        str(record),
        record.model_dump_json(),
        repr(record.data),
        str(record.data.model_dump()),
    ):
        assert line not in text


def test_wrong_type_for_secret_does_not_echo_value() -> None:
    """A validation error on a secret field never includes its input value."""
    with pytest.raises(CredentialError) as info:
        parse_record(_oauth2(private_key=["SECRET-CANARY-123"]))
    assert "SECRET-CANARY-123" not in str(info.value)
    assert info.value.field == "data.private_key"


def test_oauth1a_realm_rules_and_dh_prime_forms(tmp_path: Path) -> None:
    """TESTCONS gets test_realm, others limited_poa; dh_prime as hex or dhparam.pem path."""
    import base64

    base = {
        "access_token": "t",
        "access_token_secret": "s",
        "signature_key": "k",
        "encryption_key": "k",
    }
    prime_hex = "ff" * 256
    test = OAuth1aData.model_validate({**base, "consumer_key": "TESTCONS", "dh_prime": prime_hex})
    assert test.resolved_realm == "test_realm"
    assert test.dh_parameters() == (int(prime_hex, 16), 2)
    prime = int("f" * 512, 16) - 0x1234  # any 2048-bit value: only the encoding matters here

    def der_int(n: int) -> bytes:
        raw = n.to_bytes(n.bit_length() // 8 + 1, "big")
        return b"\x02" + _der_len(len(raw)) + raw

    body = der_int(prime) + der_int(2)
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    pem = "-----BEGIN DH PARAMETERS-----\n" + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    path = tmp_path / "dhparam.pem"
    path.write_text(pem + "\n-----END DH PARAMETERS-----\n")
    real = OAuth1aData.model_validate({**base, "consumer_key": "ABCDEFGHI", "dh_prime": str(path)})
    assert real.resolved_realm == "limited_poa"
    assert real.dh_parameters() == (prime, 2)
    garbage = tmp_path / "bad.pem"
    garbage.write_text("-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n")
    bad = OAuth1aData.model_validate({**base, "consumer_key": "X", "dh_prime": str(garbage)})
    with pytest.raises(CredentialError, match="dhparam"):
        bad.dh_parameters()
    short = OAuth1aData.model_validate({**base, "consumer_key": "X", "dh_prime": "fb"})
    with pytest.raises(CredentialError, match="2048"):
        short.dh_parameters()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
