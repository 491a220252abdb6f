"""LiveSessionTokenProvider against a `responses` fake IBKR that checks RSA and HMAC signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote

import pytest
import requests
import responses
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from noetl_ib_plugin.auth import FileTokenCache, MemoryTokenCache, Token
from noetl_ib_plugin.auth import oauth1a_math as m
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.credentials.models import OAuth1aData
from noetl_ib_plugin.credentials.records import parse_record
from noetl_ib_plugin.errors import AuthError, CredentialError, IBPluginError

VECTORS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "data" / "oauth1a_vectors.json").read_text()
)["cases"]
RSA = VECTORS["lst_request_rsa"]
DH = VECTORS["rfc3526_2048"]
HMAC_CASE = VECTORS["hmac_request"]
ROOT = "https://api.ibkr.com"
BASE = f"{ROOT}/v1/api"
LST_URL = f"{BASE}/oauth/live_session_token"
ACCOUNTS_URL = f"{BASE}/iserver/accounts"
PRIME = int(DH["dh_prime_hex"], 16)
_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*"([^"]*)"')


def record_data(**overrides: Any) -> dict[str, Any]:
    """The vector credential as a NoETL `data` mapping."""
    data: dict[str, Any] = {
        "consumer_key": "TESTCONS",
        "access_token": RSA["params"]["oauth_token"],
        "access_token_secret": RSA["access_token_secret_b64"],
        "signature_key": RSA["signature_key_pem"],
        "encryption_key": RSA["encryption_key_pem"],
        "dh_prime": DH["dh_prime_hex"],
        "account_id": "DU0000001",
        "api_base_url": ROOT,
    }
    data.update(overrides)
    return data


def quiet_policy() -> RetryPolicy:
    """Retries without sleeping, so retry tests stay fast."""
    return RetryPolicy(sleep=lambda _s: None, rand=lambda: 0.0)


def parse_header(value: str) -> dict[str, str]:
    """Server-side parse of `OAuth k="v", ...`."""
    assert value.startswith("OAuth ")
    return dict(_PARAM.findall(value[6:]))


def server_base(method: str, url: str, params: dict[str, str], prepend: str = "") -> str:
    """The server's own base string from its public URL (no query, realm or signature)."""
    pairs = sorted((k, v) for k, v in params.items() if k not in ("realm", "oauth_signature"))
    joined = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{prepend}{method}&{quote_plus(url.split('?', maxsplit=1)[0])}&{quote_plus(joined)}"


class FakeIBKR:
    """LST endpoint and `/iserver/accounts`, checking signatures like IBKR and counting calls."""

    def __init__(self, rsps: responses.RequestsMock, realm: str = "test_realm") -> None:
        key = serialization.load_pem_private_key(RSA["signature_key_pem"].encode(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.public_key = key.public_key()
        self.realm = realm
        self.prepend = RSA["expected_prepend_hex"]
        self.valid: list[str] = []
        self.issued: list[str] = []
        self.nonces: list[str] = []
        self.headers: list[str] = []
        self.lst_requests = 0
        self.api_calls = 0
        self.auth_failures = 0
        self.scripted: list[tuple[int, dict[str, str], str]] = []
        self.server_random: int | None = None
        self.tamper_signature = False
        rsps.add_callback(responses.POST, LST_URL, callback=self._lst)
        rsps.add_callback(
            responses.GET, re.compile(re.escape(ACCOUNTS_URL) + r"(\?.*)?$"), callback=self._api
        )

    def _refuse(self) -> tuple[int, dict[str, str], str]:
        self.auth_failures += 1
        return 401, {}, json.dumps({"error": "id: 1, error: invalid signature", "statusCode": 401})

    def _lst(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.lst_requests += 1
        if self.scripted:
            return self.scripted.pop(0)
        header = str(request.headers["Authorization"])
        self.headers.append(header)
        params = parse_header(header)
        self.nonces.append(params["oauth_nonce"])
        base = server_base("POST", LST_URL, params, self.prepend)
        try:
            self.public_key.verify(
                base64.b64decode(unquote(params["oauth_signature"])),
                base.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return self._refuse()
        assert params["realm"] == self.realm
        assert params["oauth_signature_method"] == "RSA-SHA256"
        assert not request.body
        b = self.server_random or secrets.randbits(256)
        k = pow(int(params["diffie_hellman_challenge"], 16), b, PRIME)
        kb = k.to_bytes(k.bit_length() // 8 + 1, "big")
        lst = base64.b64encode(hmac.new(kb, bytes.fromhex(self.prepend), "sha1").digest()).decode()
        proof = hmac.new(base64.b64decode(lst), params["oauth_consumer_key"].encode(), "sha1")
        self.issued.append(lst)
        self.valid.append(lst)
        body = {
            "diffie_hellman_response": format(pow(2, b, PRIME), "x"),
            "live_session_token_signature": (
                "0" * 40 if self.tamper_signature else proof.hexdigest()
            ),
            "live_session_token_expiration": int((time.time() + 86400) * 1000),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _api(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.api_calls += 1
        params = parse_header(str(request.headers["Authorization"]))
        assert params["oauth_signature_method"] == "HMAC-SHA256"
        base = server_base("GET", str(request.url), params).encode()
        sent = unquote(params["oauth_signature"])
        for lst in self.valid:
            digest = hmac.digest(base64.b64decode(lst), base, hashlib.sha256)
            if hmac.compare_digest(base64.b64encode(digest).decode(), sent):
                return 200, {}, json.dumps({"accounts": ["DU0000001"]})
        return self._refuse()


@pytest.fixture
def fake() -> Iterator[FakeIBKR]:
    """A fresh fake IBKR for one test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeIBKR(rsps)


def make_provider(**kwargs: Any) -> LiveSessionTokenProvider:
    """Provider on the vector credential with an isolated cache and a quiet retry policy."""
    data = kwargs.pop("data", None) or record_data()
    kwargs.setdefault("cache", MemoryTokenCache())
    kwargs.setdefault("retry_policy", quiet_policy())
    kwargs.setdefault("session", requests.Session())
    return LiveSessionTokenProvider(data, **kwargs)


def signed_get(provider: LiveSessionTokenProvider, url: str) -> requests.Response:
    """What the trading client does: sign, send, and on 401 invalidate that LST and retry once."""
    resp: requests.Response | None = None
    for _ in range(2):
        headers: dict[str, str] = {}
        used = provider.authorize("GET", url, headers)
        resp = requests.get(url, headers=headers, timeout=5)
        if resp.status_code != 401:
            return resp
        provider.invalidate(used)
    assert resp is not None
    return resp


def test_lst_request_reproduces_vector_end_to_end(fake: FakeIBKR) -> None:
    """With injected nonce/clock/DH secret the LST request header and the LST equal the vectors."""
    fake.server_random = int(DH["server_random_hex"], 16)
    provider = make_provider(
        nonce_factory=lambda: RSA["params"]["oauth_nonce"],
        clock=lambda: float(RSA["params"]["oauth_timestamp"]),
        dh_random=lambda: int(DH["dh_random_hex"], 16),
    )
    with freeze_time("2024-04-30 15:04:20"):
        token = provider.current_token()
    assert fake.headers == [RSA["authorization_header"]]
    assert token.value == DH["live_session_token"]
    assert token.scheme == "oauth1a"
    assert token.obtained_at == float(RSA["params"]["oauth_timestamp"])
    assert token.expires_at == pytest.approx(1714489460 + 86400, abs=1)


def test_authorize_reproduces_hmac_vector(fake: FakeIBKR) -> None:
    """authorize() builds exactly the vector's HMAC-SHA256 header, ignoring the query string."""
    cache = MemoryTokenCache()
    provider = make_provider(
        data=record_data(realm="limited_poa"),
        cache=cache,
        nonce_factory=lambda: HMAC_CASE["params"]["oauth_nonce"],
        clock=lambda: float(HMAC_CASE["params"]["oauth_timestamp"]),
    )
    lst = HMAC_CASE["live_session_token"]
    token = Token(lst, 1714489460 + 86400, 1714489460, "oauth1a")
    cache.store(provider.cache_key, token.to_entry())
    headers: dict[str, str] = {}
    used = provider.authorize("get", HMAC_CASE["url"] + "?a=1&b=2", headers)
    assert used == lst
    assert headers["Authorization"] == HMAC_CASE["authorization_header"]
    assert fake.lst_requests == 0


def test_signed_requests_verify_on_server_with_and_without_query(fake: FakeIBKR) -> None:
    """The fake verifies the RSA LST request and HMAC signatures over URLs with query strings."""
    provider = make_provider()
    assert signed_get(provider, ACCOUNTS_URL).status_code == 200
    assert signed_get(provider, ACCOUNTS_URL + "?force=true&x=a%20b").status_code == 200
    assert (fake.lst_requests, fake.auth_failures) == (1, 0)
    headers: dict[str, str] = {}
    provider.authorize("GET", ACCOUNTS_URL, headers)
    headers["Authorization"] = headers["Authorization"].replace("oauth_nonce=\"", "oauth_nonce=\"x")
    assert requests.get(ACCOUNTS_URL, headers=headers, timeout=5).status_code == 401


def test_lst_reused_until_buffer_then_regenerated(fake: FakeIBKR, tmp_path: Path) -> None:
    """The LST is reused until expiry minus the 300 s buffer and fetched again after it."""
    with freeze_time("2024-05-01 12:00:00") as frozen:
        provider = make_provider(cache=FileTokenCache(tmp_path))
        first = provider.fetch_token()
        frozen.tick(86400 - 300 - 1)
        assert provider.fetch_token() == first
        assert fake.lst_requests == 1
        frozen.tick(2)
        second = provider.fetch_token()
    assert second != first
    assert fake.lst_requests == 2


def test_file_cache_shares_lst_and_holds_no_credential_secret(
    fake: FakeIBKR, tmp_path: Path
) -> None:
    """A second provider (as in a new process) reuses the cached LST; the file has no secrets."""
    first = make_provider(cache=FileTokenCache(tmp_path))
    lst = first.fetch_token()
    second = make_provider(cache=FileTokenCache(tmp_path))
    assert second.fetch_token() == lst
    assert second.current_token().from_cache
    assert fake.lst_requests == 1
    stored = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert RSA["params"]["oauth_token"] not in stored
    assert RSA["access_token_secret_b64"] not in stored
    assert RSA["expected_prepend_hex"] not in stored


def test_401_regenerates_once_and_retry_succeeds(fake: FakeIBKR) -> None:
    """When IBKR drops the LST, one 401 invalidates it, one new LST is made and the retry works."""
    provider = make_provider()
    assert signed_get(provider, ACCOUNTS_URL).status_code == 200
    fake.valid.clear()  # IBKR revoked every LST
    resp = signed_get(provider, ACCOUNTS_URL)
    assert resp.status_code == 200
    assert fake.lst_requests == 2
    assert fake.auth_failures == 1
    assert fake.api_calls == 3


def test_invalidate_with_stale_lst_keeps_fresh_one(fake: FakeIBKR) -> None:
    """invalidate(old LST) after a refresh is a no-op: the fresh LST stays and no fetch happens."""
    provider = make_provider()
    old = provider.fetch_token()
    assert provider.invalidate(old) is True
    fresh = provider.fetch_token()
    assert fresh != old
    assert provider.invalidate(old) is False
    assert provider.fetch_token() == fresh
    assert fake.lst_requests == 2


def test_retry_after_503_uses_fresh_nonce_and_challenge(fake: FakeIBKR) -> None:
    """A 5xx is retried with a new nonce, timestamp and DH challenge, never a replay."""
    fake.scripted.append((503, {}, "busy"))
    challenges: list[int] = []

    def counting_random() -> int:
        challenges.append(secrets.randbits(256))
        return challenges[-1]

    provider = make_provider(dh_random=counting_random)
    provider.fetch_token()
    assert fake.lst_requests == 2
    assert len(challenges) == 2 and challenges[0] != challenges[1]


def test_wrong_encryption_key_names_fields_without_http(fake: FakeIBKR) -> None:
    """A secret that does not decrypt: CredentialError naming both fields, before any request."""
    provider = make_provider(data=record_data(encryption_key=RSA["signature_key_pem"]))
    with pytest.raises(CredentialError) as info:
        provider.fetch_token()
    assert info.value.field == "data.access_token_secret"
    assert "data.encryption_key" in str(info.value)
    assert fake.lst_requests == 0


def test_lst_mismatch_says_which_inputs_to_check(fake: FakeIBKR) -> None:
    """A mismatching live_session_token_signature: AuthError naming secret, key and prime."""
    fake.tamper_signature = True
    provider = make_provider()
    with pytest.raises(AuthError) as info:
        provider.fetch_token()
    text = str(info.value)
    for hint in ("data.access_token_secret", "data.encryption_key", "data.dh_prime"):
        assert hint in text
    assert not provider.is_token_valid()


def test_invalid_consumer_explains_activation_delay(fake: FakeIBKR) -> None:
    """401 invalid consumer explains IBKR's activation delay and which fields to check."""
    body = json.dumps({"error": "id: 39687, error: invalid consumer", "statusCode": 401})
    fake.scripted.append((401, {}, body))
    with pytest.raises(AuthError) as info:
        make_provider().fetch_token()
    assert info.value.status == 401
    text = str(info.value)
    assert "activates" in text and "data.consumer_key" in text and "data.signature_key" in text
    assert fake.lst_requests == 1  # 4xx is never retried


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, json.dumps({"error": "invalid timestamp"})),
        ({"Date": "Mon, 01 Jan 2024 00:00:00 GMT"}, json.dumps({"error": "not authorized"})),
    ],
)
def test_clock_skew_points_at_system_clock(
    fake: FakeIBKR, headers: dict[str, str], body: str
) -> None:
    """A rejected timestamp, or a server Date far from ours, yields an AuthError about the clock."""
    fake.scripted.append((401, headers, body))
    with pytest.raises(AuthError, match="system clock"):
        make_provider().fetch_token()


def test_gone_410_is_explained(fake: FakeIBKR) -> None:
    """410 gone says the session is gone and what to renew if it persists."""
    fake.scripted.append((410, {}, "gone"))
    with pytest.raises(AuthError) as info:
        make_provider().fetch_token()
    assert info.value.status == 410
    assert "gone" in str(info.value) and "data.access_token" in str(info.value)


def test_malformed_answer_and_bad_mapping_are_reported(fake: FakeIBKR) -> None:
    """A 200 without the LST fields is an AuthError; a bad mapping is a CredentialError by field."""
    fake.scripted.append((200, {}, json.dumps({"unexpected": True})))
    with pytest.raises(AuthError, match="diffie_hellman_response"):
        make_provider().fetch_token()
    with pytest.raises(CredentialError) as info:
        LiveSessionTokenProvider(record_data(access_token=None), cache=MemoryTokenCache())
    assert info.value.field == "data.access_token"


def test_accepts_model_record_and_record_mapping() -> None:
    """The model, a parsed record and a whole record mapping give providers with one cache key."""
    raw = {"name": "ib", "type": "interactive_brokers_oauth1a", "data": record_data()}
    record = parse_record(raw)
    inputs: list[Any] = [record.data, record, raw, record_data()]
    keys = {LiveSessionTokenProvider(x, cache=MemoryTokenCache()).cache_key for x in inputs}
    assert len(keys) == 1
    provider = LiveSessionTokenProvider(record, cache=MemoryTokenCache())
    assert provider.trading_base_url == BASE
    assert isinstance(provider.data, OAuth1aData)


def test_secret_canary(fake: FakeIBKR, caplog: pytest.LogCaptureFixture) -> None:
    """No LST, secret, prepend, access token or PEM reaches logs, reprs or error text at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="noetl_ib_plugin")
    caplog.set_level(logging.DEBUG)
    raw = {"name": "ib", "type": "interactive_brokers_oauth1a", "data": record_data()}
    record = parse_record(raw)
    provider = make_provider(data=record.data)
    assert signed_get(provider, ACCOUNTS_URL).status_code == 200
    token = provider.current_token()
    texts = [repr(provider), repr(record), repr(record.data), repr(token)]
    texts.append(str(provider.token_info()))
    failures: list[IBPluginError] = []
    fake.tamper_signature = True
    provider.clear_cache()
    with pytest.raises(AuthError) as mismatch:
        provider.fetch_token()
    failures.append(mismatch.value)
    fake.scripted.append((401, {}, json.dumps({"error": "id: 39687, error: invalid consumer"})))
    with pytest.raises(AuthError) as refused:
        provider.fetch_token()
    failures.append(refused.value)
    with pytest.raises(CredentialError) as wrong_key:
        make_provider(data=record_data(encryption_key=RSA["signature_key_pem"])).fetch_token()
    failures.append(wrong_key.value)
    for exc in failures:
        texts += [str(exc), repr(exc), json.dumps(exc.to_dict())]
    texts.append(caplog.text)
    assert "live session token" in caplog.text  # logging really was on
    secrets_ = [
        *fake.issued,
        RSA["access_token_secret_b64"],
        RSA["expected_prepend_hex"],
        RSA["params"]["oauth_token"],
        RSA["signature_key_pem"],
        RSA["encryption_key_pem"],
        RSA["signature_key_pem"].splitlines()[5],
        RSA["encryption_key_pem"].splitlines()[5],
    ]
    assert len(fake.issued) == 2
    blob = "\n".join(texts)
    for secret in secrets_:
        assert secret not in blob


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "post", "DELETE"]),
    path=st.text(alphabet="abcXYZ019-_.~/%:@", max_size=30),
    query=st.text(alphabet="abc=&%+ 19", max_size=20),
    nonce=st.text(min_size=1, max_size=20).filter(lambda s: '"' not in s),
)
def test_fast_authorize_equals_reference_math(
    method: str, path: str, query: str, nonce: str
) -> None:
    """authorize()'s precomputed pieces equal the reference math helpers for any URL and nonce."""
    cache = MemoryTokenCache()
    provider = make_provider(cache=cache, nonce_factory=lambda: nonce, clock=lambda: 1714489460.0)
    lst = HMAC_CASE["live_session_token"]
    token = Token(lst, 1714489460 + 86400, 1714489460, "oauth1a")
    cache.store(provider.cache_key, token.to_entry())
    url = f"{BASE}/{path}" + (f"?{query}" if query else "")
    headers: dict[str, str] = {}
    provider.authorize(method, url, headers)
    params = {
        "oauth_consumer_key": "TESTCONS",
        "oauth_nonce": nonce,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1714489460",
        "oauth_token": RSA["params"]["oauth_token"],
    }
    signature = m.hmac_sha256_signature(m.base_string(method, url, params), lst)
    expected = m.authorization_header({**params, "oauth_signature": signature}, "test_realm")
    assert headers["Authorization"] == expected
