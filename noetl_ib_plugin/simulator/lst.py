"""Server side of IBKR's OAuth 1.0a: header parsing, base strings, DH and LST math."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "RFC3526_PRIME_HEX",
    "base_string",
    "dh_response",
    "hmac_sha256_signature",
    "java_bytes",
    "live_session_token",
    "lst_signature",
    "parse_oauth_header",
    "shared_secret",
    "verify_hmac_sha256",
    "verify_rsa_sha256",
]

#: RFC 3526 group 14 (2048-bit MODP), the prime IBKR's dhparam.pem files carry.
RFC3526_PRIME_HEX = (
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a0879"
    "8e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b"
    "0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da4836"
    "1c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804"
    "f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6"
    "955817183995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff"
)

_PARAM = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


def parse_oauth_header(value: str) -> dict[str, str]:
    """Parse `OAuth k="v", ...` in any order, with or without spaces, as clients vary."""
    text = value.strip()
    if text[:5].lower() != "oauth" or (len(text) > 5 and not text[5].isspace()):
        raise ValueError("not an OAuth authorization header")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(text[5:]):
        key, quoted, bare = match.groups()
        params[key] = quoted if quoted is not None else bare
    return params


def base_string(method: str, url: str, params: Mapping[str, str], prepend: str = "") -> str:
    """Build IBKR's base string: the joined, sorted params are encoded once, not one by one."""
    joined = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(joined)}"


def signed_params(
    header: Mapping[str, str], extra: Iterable[tuple[str, str]] = ()
) -> dict[str, str]:
    """Return the parameters that take part in the signature: everything but realm and signature."""
    params = {k: v for k, v in header.items() if k not in ("realm", "oauth_signature")}
    params.update(extra)
    return params


def verify_rsa_sha256(public_key: rsa.RSAPublicKey, text: str, signature_field: str) -> bool:
    """Check an RSA-SHA256 PKCS#1 v1.5 signature as sent in the header (percent-encoded base64)."""
    try:
        raw = base64.b64decode(unquote(signature_field), validate=True)
        public_key.verify(raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def hmac_sha256_signature(lst_b64: str, text: str) -> str:
    """Compute the base64 HMAC-SHA256 a request must carry (before percent-encoding)."""
    key = base64.b64decode(lst_b64)
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def verify_hmac_sha256(lst_b64: str, text: str, signature_field: str) -> bool:
    """Compare in constant time after one unquote, as the header carries quote_plus(base64)."""
    expected = hmac_sha256_signature(lst_b64, text)
    return hmac.compare_digest(expected.encode(), unquote(signature_field).encode())


def java_bytes(value: int) -> bytes:
    """Encode like Java's BigInteger.toByteArray(): big-endian with a sign byte when needed."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def dh_response(generator: int, server_random: int, prime: int) -> int:
    """Compute B = g^b mod p, the value the server returns as diffie_hellman_response."""
    return pow(generator, server_random, prime)


def shared_secret(challenge: int, server_random: int, prime: int) -> int:
    """Compute K = A^b mod p, the secret both sides derive."""
    return pow(challenge, server_random, prime)


def live_session_token(secret: int, prepend_hex: str) -> str:
    """Derive the LST: base64(HMAC-SHA1(K as Java bytes, prepend bytes))."""
    digest = hmac.new(java_bytes(secret), bytes.fromhex(prepend_hex), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def lst_signature(lst_b64: str, consumer_key: str) -> str:
    """Prove the LST to the client: HMAC-SHA1(LST bytes, consumer key) as hex."""
    return hmac.new(base64.b64decode(lst_b64), consumer_key.encode(), hashlib.sha1).hexdigest()
