"""Every OAuth 1.0a vector reproduced exactly by the pure math helpers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from noetl_ib_plugin.auth import oauth1a_math as m
from noetl_ib_plugin.credentials.keys import load_rsa_private_key

VECTORS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "data" / "oauth1a_vectors.json").read_text()
)["cases"]
DH_CASES = ["small_dh_sign_byte", "rfc3526_2048"]
RSA = VECTORS["lst_request_rsa"]
HMAC = VECTORS["hmac_request"]


def _key(name: str) -> RSAPrivateKey:
    return load_rsa_private_key(RSA[name], f"data.{name}")


@pytest.mark.parametrize("case", DH_CASES)
def test_dh_challenge_matches_vector(case: str) -> None:
    """A = g^a mod p is lowercase unpadded hex, as in the vectors."""
    c = VECTORS[case]
    a, p = int(c["dh_random_hex"], 16), int(c["dh_prime_hex"], 16)
    assert m.dh_challenge(a, p, c["dh_generator"]) == c["dh_challenge_hex"]


@pytest.mark.parametrize("case", DH_CASES)
def test_shared_secret_bytes_match_vector(case: str) -> None:
    """K = B^a mod p encodes like Java's BigInteger.toByteArray(), sign byte included."""
    c = VECTORS[case]
    a, p = int(c["dh_random_hex"], 16), int(c["dh_prime_hex"], 16)
    k = pow(int(c["dh_response_hex"], 16), a, p)
    if "shared_secret_hex" in c:
        assert format(k, "x") == c["shared_secret_hex"]
    assert m.k_to_bytes(k).hex() == c["shared_secret_bytes_hex"]


def test_k_to_bytes_adds_sign_byte_only_when_top_bit_set() -> None:
    """0x7f stays one byte, 0x80 and 0xe7 gain a 0x00 prefix, 0 is one zero byte."""
    assert m.k_to_bytes(0x7F) == b"\x7f"
    assert m.k_to_bytes(0x80) == b"\x00\x80"
    assert m.k_to_bytes(0xE7) == b"\x00\xe7"
    assert m.k_to_bytes(0) == b"\x00"


@pytest.mark.parametrize("case", DH_CASES)
def test_lst_and_its_signature_match_vector(case: str) -> None:
    """LST = base64(HMAC-SHA1(K bytes, prepend)) and its HMAC-SHA1 proof validate."""
    c = VECTORS[case]
    a, p = int(c["dh_random_hex"], 16), int(c["dh_prime_hex"], 16)
    lst = m.compute_lst(c["dh_response_hex"], a, p, c["prepend_hex"])
    assert lst == c["live_session_token"]
    assert m.lst_signature(lst, c["consumer_key"]) == c["live_session_token_signature"]
    assert m.validate_lst(lst, c["consumer_key"], c["live_session_token_signature"])
    assert m.validate_lst(lst, c["consumer_key"], c["live_session_token_signature"].upper())


@pytest.mark.parametrize("case", DH_CASES)
def test_validate_lst_rejects_wrong_inputs(case: str) -> None:
    """A different consumer key, signature or non-ASCII junk never validates."""
    c = VECTORS[case]
    lst, sig = c["live_session_token"], c["live_session_token_signature"]
    assert not m.validate_lst(lst, "OTHERCONS", sig)
    assert not m.validate_lst(lst, c["consumer_key"], "0" * 40)
    assert not m.validate_lst(lst, c["consumer_key"], "é" * 40)


def test_prepend_decrypts_from_vector_secret() -> None:
    """RSA PKCS#1 v1.5 decryption of the access token secret yields the vector prepend."""
    prepend = m.decrypt_prepend(RSA["access_token_secret_b64"], _key("encryption_key_pem"))
    assert prepend == RSA["expected_prepend_hex"]


def test_prepend_with_wrong_key_or_damaged_secret_raises() -> None:
    """Wrong key (despite OpenSSL's implicit rejection), bad base64 or length raise ValueError."""
    with pytest.raises(ValueError, match="does not decrypt"):
        m.decrypt_prepend(RSA["access_token_secret_b64"], _key("signature_key_pem"))
    with pytest.raises(ValueError, match="base64"):
        m.decrypt_prepend("not base64!", _key("encryption_key_pem"))
    with pytest.raises(ValueError, match="does not decrypt"):
        m.decrypt_prepend(RSA["access_token_secret_b64"][:-8] + "==", _key("encryption_key_pem"))


def test_lst_request_base_string_signature_and_header_match_vector() -> None:
    """RSA-SHA256 LST request: base string, deterministic signature and header are exact."""
    base = m.base_string(RSA["method"], RSA["url"], RSA["params"], RSA["expected_prepend_hex"])
    assert base == RSA["base_string"]
    signature = m.rsa_sha256_signature(base, _key("signature_key_pem"))
    assert signature == RSA["oauth_signature_header_value"]
    header = m.authorization_header({**RSA["params"], "oauth_signature": signature}, RSA["realm"])
    assert header == RSA["authorization_header"]


def test_hmac_request_matches_vector_and_ignores_query() -> None:
    """HMAC-SHA256 request: base string over the URL minus query, signature and header exact."""
    for url in (HMAC["url"], HMAC["url"] + "?period=1D&x=a+b", HMAC["url"] + "#frag"):
        base = m.base_string(HMAC["method"], url, HMAC["params"])
        assert base == HMAC["base_string"]
    signature = m.hmac_sha256_signature(HMAC["base_string"], HMAC["live_session_token"])
    assert signature == HMAC["oauth_signature_header_value"]
    raw = base64.b64decode(HMAC["live_session_token"])
    assert m.hmac_sha256_signature(HMAC["base_string"], raw) == signature
    header = m.authorization_header({**HMAC["params"], "oauth_signature": signature}, HMAC["realm"])
    assert header == HMAC["authorization_header"]


def test_base_string_encodes_joined_params_once() -> None:
    """Values are not percent-encoded one by one: '=' inside a value becomes %3D exactly once."""
    base = m.base_string("get", "https://h/p", {"b": "x=y", "a": "1"})
    assert base == "GET&https%3A%2F%2Fh%2Fp&a%3D1%26b%3Dx%3Dy"


def test_dh_random_and_nonce_are_fresh() -> None:
    """The DH secret has at most 256 bits and nonces are alphanumeric and unique."""
    values = {m.dh_random() for _ in range(20)}
    assert len(values) == 20 and all(1 < a < 2**256 for a in values)
    nonces = {m.generate_nonce() for _ in range(50)}
    assert len(nonces) == 50 and all(n.isalnum() and len(n) >= 16 for n in nonces)
