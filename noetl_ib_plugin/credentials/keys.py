"""Load RSA keys and DH parameters with errors that name the field and never print the key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CredentialError
from .files import MAX_KEY_FILE_BYTES, read_bounded_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "MIN_RSA_BITS",
    "key_from_pem_or_path",
    "load_dh_prime",
    "load_rsa_private_key",
    "read_key_file",
    "secret_digest",
]

MIN_RSA_BITS = 2048
def read_key_file(path: str, field: str) -> str:
    """Read a PEM file named by a `*_path` field; the error names the field and the path, not the content."""
    try:
        return read_bounded_text(Path(path).expanduser(), MAX_KEY_FILE_BYTES)[0]
    except FileNotFoundError:
        raise CredentialError(
            f"key file {path!r} does not exist",
            field=field,
            fix="point it at the PEM file that holds the private key, or put the PEM text in the "
            "record instead.",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable text"
        raise CredentialError(
            f"key file {path!r} cannot be read ({reason})",
            field=field,
            fix="check the path and its permissions; the file must be PEM text in a regular file "
            f"of at most {MAX_KEY_FILE_BYTES} bytes.",
        ) from None


def load_rsa_private_key(pem: str, field: str) -> RSAPrivateKey:
    """Parse an unencrypted PEM RSA private key of at least 2048 bits."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    text = pem.strip()
    if "-----BEGIN" not in text:
        raise CredentialError(
            "is not PEM text (no 'BEGIN ... PRIVATE KEY' header line)",
            field=field,
            fix="paste the whole PEM file, header and footer included, with real or '\\n' "
            "newlines; or use the matching *_path field.",
        )
    text = text.replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except TypeError:
        raise CredentialError(
            "is an encrypted (password-protected) private key",
            field=field,
            fix="export it without a passphrase, e.g. `openssl pkey -in key.pem -out plain.pem`, "
            "and keep the file mode 600.",
        ) from None
    except (ValueError, Exception):
        raise CredentialError(
            "does not parse as a PEM private key (truncated, damaged or not a key)",
            field=field,
            fix="re-export the key as PKCS#8 or PKCS#1 PEM (`openssl pkey -in key.pem -out fixed.pem`).",
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise CredentialError(
            f"is a {type(key).__name__.lstrip('_').replace('PrivateKey', '')} key, not RSA",
            field=field,
            fix="IBKR signs with RS256: generate an RSA key, e.g. "
            "`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.",
        )
    if key.key_size < MIN_RSA_BITS:
        raise CredentialError(
            f"is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are required",
            field=field,
            fix="generate a 2048-bit (or larger) RSA key and register its public half with IBKR.",
        )
    return key


def _hex_block(text: str) -> str:
    """The prime's hex digits from hex text with any whitespace/colons (CRLF, tabs, the block
    `openssl dhparam -text` prints, with or without its "prime:"/"generator:" lines)."""
    low = text.lower()
    if "prime:" in low:
        low = low.split("prime:", 1)[1].split("generator", 1)[0]
    return "".join(low.split()).removeprefix("0x").replace(":", "")


def load_dh_prime(value: str, field: str = "dh_prime") -> tuple[int, int | None]:
    """Accept a hex prime or a path to `dhparam.pem`; returns (prime, generator-or-None)."""
    text = value.strip()
    candidate = _hex_block(text)
    if candidate and all(c in "0123456789abcdef" for c in candidate):
        prime = int(candidate, 16)
        if prime.bit_length() < 512:
            raise CredentialError(
                f"is a {prime.bit_length()}-bit number; IBKR's DH prime has 2048 bits",
                field=field,
                fix="copy the full prime from `openssl dhparam -in dhparam.pem -text`, "
                "or give the path to dhparam.pem.",
            )
        return prime, None
    pem = text if "-----BEGIN DH PARAMETERS-----" in text else read_key_file(text, field)
    try:
        return _parse_dhparam_pem(pem)
    except ValueError:
        raise CredentialError(
            "is neither a hex prime nor a readable dhparam.pem",
            field=field,
            fix="give the prime as hex or the path to the dhparam.pem you registered with IBKR.",
        ) from None


def _parse_dhparam_pem(pem: str) -> tuple[int, int]:
    """Read `DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }` (PKCS#3) from PEM.

    Parsed here because cryptography deprecates its finite-field DH API; this is all we need of it.
    """
    import base64
    import binascii

    lines = pem.strip().splitlines()
    try:
        begin = lines.index("-----BEGIN DH PARAMETERS-----")
        end = lines.index("-----END DH PARAMETERS-----")
        der = base64.b64decode("".join(lines[begin + 1 : end]), validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("not a DH PARAMETERS PEM") from None

    def read(buf: bytes, pos: int, tag: int) -> tuple[bytes, int]:
        if pos + 2 > len(buf) or buf[pos] != tag:
            raise ValueError("unexpected DER tag")
        length, pos = buf[pos + 1], pos + 2
        if length & 0x80:
            count = length & 0x7F
            length, pos = int.from_bytes(buf[pos : pos + count], "big"), pos + count
        if pos + length > len(buf):
            raise ValueError("truncated DER")
        return buf[pos : pos + length], pos + length

    body, _ = read(der, 0, 0x30)
    prime, pos = read(body, 0, 0x02)
    base, _ = read(body, pos, 0x02)
    return int.from_bytes(prime, "big"), int.from_bytes(base, "big")


def _secret_value(value: Any) -> str:
    """The text of a pydantic SecretStr (or "" for None): read here, never logged."""
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else ""
    return text if isinstance(text, str) else ""


def key_from_pem_or_path(secret: Any, path: str | None, name: str) -> RSAPrivateKey:
    """The RSA key of field `name`: its PEM text, else the file its `name_path` twin names.

    Errors name `data.<name>` or `data.<name>_path`, never the key.
    """
    if secret is not None:
        return load_rsa_private_key(_secret_value(secret), f"data.{name}")
    assert path is not None  # the model requires one of the two
    field = f"data.{name}_path"
    return load_rsa_private_key(read_key_file(path, field), field)


def secret_digest(data: Any, secret_fields: Iterable[str]) -> str:
    """SHA-256 (hex) of a record's secret material, key files read: a rotated or wrong key gets
    its own token cache. Never the secret itself: caches are keyed by this digest mixed with
    public ids."""
    import hashlib

    digest = hashlib.sha256()
    for name in secret_fields:
        text = _secret_value(getattr(data, name, None))
        path = getattr(data, f"{name}_path", None)
        if not text and isinstance(path, str):
            try:
                text = read_bounded_text(Path(path).expanduser(), MAX_KEY_FILE_BYTES)[0]
            except (OSError, UnicodeDecodeError):
                text = f"unreadable:{path}"  # the key loader reports it properly on use
        digest.update(name.encode() + b"\0" + text.strip().replace("\\n", "\n").encode() + b"\0")
    return digest.hexdigest()
