"""Pure OAuth 1.0a / Live Session Token math, kept apart from I/O so the vectors can pin every step.

Only stdlib and `cryptography` (imported lazily: a playbook step is a fresh process and most
steps find a cached token). Randomness is a parameter or a separate function, so tests are exact.
This is deliberately independent of `noetl_ib_plugin.simulator.lst`: the simulator checks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "DH_RANDOM_BITS",
    "authorization_header",
    "base_string",
    "compute_lst",
    "decrypt_prepend",
    "dh_challenge",
    "dh_random",
    "generate_nonce",
    "hmac_sha256_signature",
    "k_to_bytes",
    "lst_signature",
    "quote_b64",
    "rsa_sha256_signature",
    "strip_query",
    "validate_lst",
]

#: Size of the client's DH secret `a` (IBKR's reference clients use 256 bits).
DH_RANDOM_BITS = 256


def dh_random() -> int:
    """A fresh 256-bit DH secret `a` from the OS CSPRNG (never zero, so `A` is never 1)."""
    while True:
        a = secrets.randbits(DH_RANDOM_BITS)
        if a > 1:
            return a


def dh_challenge(a: int, p: int, g: int) -> str:
    """`A = g^a mod p` as lowercase hex without `0x` or padding, as IBKR expects it."""
    return format(pow(g, a, p), "x")


def _pkcs1v15_padding_ok(key: RSAPrivateKey, ciphertext: bytes) -> bool:
    """Check PKCS#1 v1.5 type-2 padding with raw RSA-CRT.

    OpenSSL 3.2+ answers a wrong key with a random "implicit rejection" plaintext instead of an
    error, which would surface much later as a confusing 401. The ciphertext comes from the
    user's own record, so this check is no padding oracle for anyone else.
    """
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    c = int.from_bytes(ciphertext, "big")
    if c >= n:
        return False
    m1 = pow(c, numbers.dmp1, numbers.p)
    m2 = pow(c, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (m1 - m2)) % numbers.p
    em = (m2 + h * numbers.q).to_bytes((n.bit_length() + 7) // 8, "big")
    if em[0] != 0 or em[1] != 2:
        return False
    separator = em.find(b"\x00", 2)
    return separator >= 10  # at least 8 non-zero padding bytes


def decrypt_prepend(access_token_secret_b64: str, encryption_key: RSAPrivateKey) -> str:
    """Hex of RSA-PKCS#1-v1.5-decrypt(base64 secret); ValueError (never echoing it) on failure."""
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        ciphertext = base64.b64decode("".join(access_token_secret_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the access token secret is not valid base64") from None
    if len(ciphertext) != encryption_key.key_size // 8 or not _pkcs1v15_padding_ok(
        encryption_key, ciphertext
    ):
        raise ValueError("the access token secret does not decrypt with this encryption key")
    try:
        return encryption_key.decrypt(ciphertext, padding.PKCS1v15()).hex()
    except ValueError:
        raise ValueError(
            "the access token secret does not decrypt with this encryption key"
        ) from None


def strip_query(url: str) -> str:
    """The URL without query string or fragment: IBKR signs neither."""
    cut = len(url)
    for mark in ("?", "#"):
        index = url.find(mark)
        if 0 <= index < cut:
            cut = index
    return url[:cut]


def _items(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(params.items() if isinstance(params, Mapping) else params)


def base_string(
    method: str,
    url: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    prepend: str = "",
) -> str:
    """IBKR's base string: sorted `k=v` pairs joined, then percent-encoded once (not per value).

    `realm` and `oauth_signature` must not be in `params`; the query string is dropped.
    """
    joined = "&".join(f"{k}={v}" for k, v in _items(params))
    return f"{prepend}{method.upper()}&{quote_plus(strip_query(url))}&{quote_plus(joined)}"


def quote_b64(raw: bytes) -> str:
    """`quote_plus(base64(raw))` by three replaces: the base64 alphabet needs no other escaping."""
    text = base64.b64encode(raw).decode("ascii")
    return text.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def rsa_sha256_signature(base: str, key: RSAPrivateKey) -> str:
    """`quote_plus(base64(RSA-SHA256 PKCS#1 v1.5))`, the header value for the LST request."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return quote_b64(key.sign(base.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()))


def hmac_sha256_signature(base: str, lst: str | bytes) -> str:
    """`quote_plus(base64(HMAC-SHA256(LST bytes, base)))`; LST as base64 text or decoded bytes."""
    key = base64.b64decode(lst) if isinstance(lst, str) else lst
    return quote_b64(hmac.digest(key, base.encode("utf-8"), "sha256"))


def authorization_header(
    params_with_signature: Mapping[str, str] | Iterable[tuple[str, str]], realm: str
) -> str:
    """`OAuth realm="...", k="v", ...` with every parameter (signature included) sorted by key."""
    body = ", ".join(f'{k}="{v}"' for k, v in _items(params_with_signature))
    return f'OAuth realm="{realm}", {body}'


def k_to_bytes(k: int) -> bytes:
    """Big-endian bytes with Java `BigInteger.toByteArray()`'s sign byte (0x00 if top bit set)."""
    return k.to_bytes(k.bit_length() // 8 + 1, "big")


def compute_lst(b_hex: str, a: int, p: int, prepend_hex: str) -> str:
    """LST = base64(HMAC-SHA1(K bytes, prepend bytes)) with `K = B^a mod p`."""
    k = pow(int(b_hex, 16), a, p)
    digest = hmac.new(k_to_bytes(k), bytes.fromhex(prepend_hex), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def lst_signature(lst: str, consumer_key: str) -> str:
    """HMAC-SHA1(LST bytes, consumer key) as hex: what IBKR sends to prove the LST."""
    return hmac.new(base64.b64decode(lst), consumer_key.encode("utf-8"), hashlib.sha1).hexdigest()


def validate_lst(lst: str, consumer_key: str, signature_hex: str) -> bool:
    """True iff IBKR's `live_session_token_signature` matches the LST we derived (constant time)."""
    expected = lst_signature(lst, consumer_key)
    return hmac.compare_digest(expected.encode(), signature_hex.strip().lower().encode("utf-8"))


def generate_nonce() -> str:
    """A random alphanumeric nonce (24 hex characters, 96 bits) from `secrets`."""
    return secrets.token_hex(12)
