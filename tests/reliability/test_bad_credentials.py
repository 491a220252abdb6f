"""Bad-input corpus for credential records: every malformed record is a typed error naming a field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.credentials.models import CredentialData
from noetl_ib_plugin.errors import CredentialError

CANARY = "CANARY-SECRET-7f3a9"


def _pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )


def _oauth2(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client_id": "cid",
        "key_id": "kid",
        "private_key": "placeholder",
        "credential": "user",
    }
    base.update(data)
    return {"name": "ib", "type": "interactive_brokers_oauth", "data": base}


def _oauth1a(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consumer_key": "ABCDEFGHI",
        "access_token": "tok",
        "access_token_secret": "c2VjcmV0",
        "signature_key": "placeholder",
        "encryption_key": "placeholder",
        "dh_prime": "ff" * 256,
    }
    base.update(data)
    return {"name": "ib1", "type": "interactive_brokers_oauth1a", "data": base}


def _truncated(pem: str) -> str:
    lines = pem.splitlines()
    return "\n".join([*lines[: len(lines) // 2], lines[-1]])


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_PEM = _pem(_RSA)
_KEYS = {
    "truncated": _truncated(_RSA_PEM),
    "ec": _pem(ec.generate_private_key(ec.SECP256R1())),
    "ed25519": _pem(ed25519.Ed25519PrivateKey.generate()),
    "dsa": _pem(dsa.generate_private_key(key_size=1024)),
    "rsa1024": _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    "public_only": _RSA.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode(),
    "garbage_body": "-----BEGIN PRIVATE KEY-----\n" + CANARY + "\n-----END PRIVATE KEY-----\n",
    "no_header": CANARY + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "empty_armour": "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    "rsa_with_junk": _RSA_PEM.replace("MII", "MI!", 1),
}

#: (record, field the error must name) — hand-written cases, each a mistake users make.
HAND_WRITTEN: list[tuple[Any, str]] = [
    (None, "record"),
    ("just a string", "record"),
    (42, "record"),
    ({}, "name"),
    ({"name": "", "type": "interactive_brokers_oauth", "data": {}}, "name"),
    ({"name": "x"}, "type"),
    ({"name": "x", "type": 7, "data": {}}, "type"),
    ({"name": "x", "type": "ib_oauth2", "data": {}}, "type"),
    ({"name": "x", "type": "interactive_brokers_oauth"}, "data"),
    ({"name": "x", "type": "interactive_brokers_oauth", "data": [1]}, "data"),
    ({"name": "x", "type": "interactive_brokers_oauth", "data": CANARY}, "data"),
    ({**_oauth2(), "tags": "ib"}, "tags"),
    ({**_oauth2(), "tags": [1, 2]}, "tags"),
    (_oauth2(client_id=None), "data.client_id"),
    (_oauth2(client_id=12345), "data.client_id"),
    (_oauth2(client_id=""), "data.client_id"),
    (_oauth2(key_id=["k"]), "data.key_id"),
    (_oauth2(credential={"user": "x"}), "data.credential"),
    (_oauth2(environment="production"), "data.environment"),
    (_oauth2(environment="LIVE; DROP TABLE credential;--"), "data.environment"),
    (_oauth2(api_base_url="ftp://api.ibkr.com"), "data.api_base_url"),
    (_oauth2(api_base_url="http://api.ibkr.com"), "data.api_base_url"),
    (_oauth2(api_base_url="javascript:alert(1)"), "data.api_base_url"),
    (_oauth2(api_base_url="https://"), "data.api_base_url"),
    (_oauth2(api_base_url=10**40), "data.api_base_url"),
    (_oauth2(token_url="http://evil.example.com/token"), "data.token_url"),
    (_oauth2(ip_claim="ipAddress"), "data.ip_claim"),
    (_oauth2(audience=""), "data.audience"),
    (_oauth2(private_key=None), "data"),
    (_oauth2(private_key=[CANARY]), "data.private_key"),
    (_oauth2(private_key={"pem": CANARY}), "data.private_key"),
    (_oauth2(private_key_path="/tmp/k.pem"), "data"),
    (_oauth2(privat_key=CANARY), "data.privat_key"),
    (_oauth2(**{"client_id\u0000": "x"}), "data.client_id\u0000"),
    (_oauth1a(consumer_key=""), "data.consumer_key"),
    (_oauth1a(access_token=None), "data.access_token"),
    (_oauth1a(access_token_secret=123), "data.access_token_secret"),
    (_oauth1a(dh_generator=1), "data.dh_generator"),
    (_oauth1a(dh_generator="two"), "data.dh_generator"),
    (_oauth1a(dh_generator=10**400), "data.dh_generator"),
    (_oauth1a(signature_key=None), "data"),
    (_oauth1a(encryption_key=None, encryption_key_path=None), "data"),
    (_oauth1a(environment="papr"), "data.environment"),
    (_oauth1a(realm=["limited_poa"]), "data.realm"),
]


@pytest.mark.parametrize(("raw", "field"), HAND_WRITTEN, ids=[str(i) for i in range(len(HAND_WRITTEN))])
def test_hand_written_bad_records_name_their_field(raw: Any, field: str) -> None:
    """Each malformed record raises CredentialError naming the expected field, never echoing values."""
    with pytest.raises(CredentialError) as info:
        parse_record(raw)
    assert info.value.field is not None
    assert info.value.field.startswith(field) or field.startswith(info.value.field)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert info.value.fix


@pytest.mark.parametrize("kind", sorted(_KEYS))
@pytest.mark.parametrize("field", ["private_key", "signature_key", "encryption_key"])
def test_unusable_keys_are_reported_against_their_field(kind: str, field: str) -> None:
    """Truncated, non-RSA, small, public-only or garbage keys fail `check()` naming the key field."""
    raw = _oauth2(private_key=_KEYS[kind]) if field == "private_key" else _oauth1a(**{field: _KEYS[kind]})
    if field != "private_key":
        other = "encryption_key" if field == "signature_key" else "signature_key"
        raw["data"][other] = _RSA_PEM
    data = parse_record(raw).data
    with pytest.raises(CredentialError) as info:
        data.check()  # type: ignore[attr-defined]
    assert info.value.field == f"data.{field}"
    text = str(info.value) + repr(info.value)
    assert CANARY not in text
    for line in _KEYS[kind].splitlines():
        if len(line) > 20 and "-----" not in line:
            assert line not in text


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.just(CANARY),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_field_names = st.sampled_from(
    [
        "client_id",
        "key_id",
        "private_key",
        "private_key_path",
        "credential",
        "ip",
        "environment",
        "api_base_url",
        "token_url",
        "audience",
        "scope",
        "account_id",
        "consumer_key",
        "access_token",
        "access_token_secret",
        "signature_key",
        "encryption_key",
        "dh_prime",
        "dh_generator",
        "realm",
    ]
) | st.text(max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["interactive_brokers_oauth", "interactive_brokers_oauth1a"]),
    overrides=st.dictionaries(_field_names, _json_values, max_size=5),
    drop=st.lists(_field_names, max_size=3),
)
def test_generated_records_never_crash_or_leak(kind: str, overrides: dict[str, Any], drop: list[str]) -> None:
    """Random field values and deletions give a valid record or a CredentialError; never another error."""
    raw = copy.deepcopy(_oauth2() if kind == "interactive_brokers_oauth" else _oauth1a())
    for name in drop:
        raw["data"].pop(name, None)
    raw["data"].update(overrides)
    try:
        record = parse_record(raw)
    except CredentialError as exc:
        assert exc.field
        assert CANARY not in str(exc)
        return
    assert isinstance(record.data, CredentialData)
    if any(overrides.get(name) == CANARY for name in record.data.SECRET_FIELDS):
        assert CANARY not in repr(record) and CANARY not in record.model_dump_json()
