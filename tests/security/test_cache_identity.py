"""Cache identity covers what changes the token; OAuth 1.0a secrets sit in holders."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.credentials.models import OAuth2Data
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import provider_for
from tests.reliability.canary import SecretScanner, record_secrets

BASE: dict[str, Any] = {"client_id": "cid", "key_id": "kid", "username": "user",
                        "api_base_url": "https://api.ibkr.com"}
#: Every OAuth 2.0 field that changes what the token is or where it is used, with another value.
#: Written from RFC 7523 / IBKR's SSO claims, not read from the provider.
CHANGES_TOKEN: dict[str, Any] = {
    "client_id": "cid2",
    "key_id": "kid2",
    "username": "user2",
    "ip": "203.0.113.9",
    "ip_claim": "userIp",
    "service": "AM_LOGIN",
    "api_base_url": "https://api2.ibkr.com",
    "token_url": "https://api.ibkr.com/other/token",
    "sso_session_url": "https://api.ibkr.com/other/sso",
    "audience": "https://api.ibkr.com/token",
    "scope": "sso-sessions.write openid",
}
#: Fields that only choose an account or a guard: the same token serves them.
#: `compete` changes how the brokerage session is opened, not what the bearer is.
SAME_TOKEN = {"environment", "account_id", "private_key", "private_key_path", "compete"}


def _key(rsa_pem: str, **changes: Any) -> str:
    """Cache key of an OAuth 2.0 provider for BASE plus `changes`."""
    data = {**BASE, "private_key": rsa_pem, **changes}
    return IBTokenProvider(data, cache=MemoryTokenCache()).cache_key


@pytest.mark.parametrize("field", sorted(CHANGES_TOKEN))
def test_oauth2_identity_covers_every_token_field(rsa_pem: str, field: str) -> None:
    """Two records differing only in a token-changing field never share a cached bearer."""
    assert _key(rsa_pem) != _key(rsa_pem, **{field: CHANGES_TOKEN[field]})


def test_every_oauth2_field_is_classified() -> None:
    """A new credential field must be added to one of the two lists, so identity cannot drift."""
    assert set(OAuth2Data.model_fields) == set(CHANGES_TOKEN) | SAME_TOKEN


def test_a_different_key_never_shares_a_token(rsa_pem: str) -> None:
    """A rotated private key gets its own cache entry (digest of the key, never the key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    assert _key(rsa_pem) != _key(other)


def _plain_strings(obj: object) -> list[str]:
    """Every str/bytes an object holds directly or in tuples/lists/dicts of its attributes."""
    out: list[str] = []
    stack: list[object] = list(vars(obj).values())
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            out.append(item if isinstance(item, str) else item.hex())
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return out


def test_oauth1a_provider_holds_no_plain_secret(sim_reset: Simulator) -> None:
    """After signing, no plain attribute of the provider holds the access token, prepend or LST."""
    provider = provider_for(sim_reset, "sim_oauth1a")
    assert isinstance(provider, LiveSessionTokenProvider)
    headers: dict[str, str] = {}
    lst = provider.authorize("GET", f"{provider.trading_base_url}/portfolio/accounts", headers)
    assert sim_reset.keys is not None
    prepend = sim_reset.keys.access_token_secret_plain.hex()
    assert provider._decrypted_prepend() == prepend  # the holder still gives the value to use
    scan = SecretScanner(record_secrets(sim_reset.credentials_file))
    scan.add("lst", lst)
    scan.add("prepend", prepend)
    assert scan.leaks(headers["Authorization"]), "the canary must see the token in the header"
    scan.assert_clean(_plain_strings(provider), "provider attributes")
    scan.assert_clean([repr(vars(provider)), repr(provider), str(provider)], "provider repr")
