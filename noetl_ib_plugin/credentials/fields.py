"""Checks shared by the credential models' fields: bounds, header safety, one URL rule.

Used by the pydantic validators in `models.py`; a ValueError here becomes a CredentialError that
names the field (validation.record_error) and never the value.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr
from pydantic_core import PydanticCustomError

from .urls import check_url

__all__ = [
    "CONTROL",
    "IDENT",
    "MAX_PATH_CHARS",
    "MAX_PEM_CHARS",
    "MAX_TOKEN_CHARS",
    "PRINTABLE",
    "RECORD_NAME_PATTERN",
    "field_problem",
    "no_control",
    "normalize_root",
    "one_name",
    "pem_or_path",
    "secret_text",
]

#: Record names: what NoETL aliases, files and servers accept; checked before a name is echoed.
RECORD_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,127}")
#: Public identifiers (client id, key id, username): printable ASCII, no spaces, bounded.
IDENT = r"^[\x21-\x7e]+$"
#: Free text IBKR reads (audience, scope): printable ASCII, spaces allowed.
PRINTABLE = r"^[\x20-\x7e]+$"
#: Bounds on secret material: a 16384-bit RSA PEM is ~13 KiB; anything far past that is not a key.
MAX_PEM_CHARS = 65536
MAX_TOKEN_CHARS = 4096
MAX_PATH_CHARS = 4096
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def no_control(value: Any) -> Any:
    """Paths, hosts and ids end up in messages and headers: control characters are refused."""
    if isinstance(value, str) and CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def secret_text(value: Any, *, pem: bool) -> Any:
    """Secrets are bounded and, unless PEM text, header-safe (no whitespace, no controls)."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        return value
    if len(text) > (MAX_PEM_CHARS if pem else MAX_TOKEN_CHARS):
        raise ValueError(
            f"is {len(text)} characters long; at most {MAX_PEM_CHARS if pem else MAX_TOKEN_CHARS}"
        )
    if pem:
        if "\x00" in text:
            raise ValueError("must not contain NUL characters")
    elif not re.fullmatch(r"[\x21-\x7e]+", text):
        raise ValueError("must be printable ASCII without spaces or control characters")
    return value


def normalize_root(url: str) -> str:
    """Reduce `https://host`, `https://host/v1` or `https://host/v1/api` (any slashes) to the host root."""
    check_url(url)  # one URL rule everywhere (credentials/urls.py)
    root = url.strip().rstrip("/")
    for suffix in ("/v1/api", "/v1"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
            break
    return root


def pem_or_path(data: Any, pem_field: str, path_field: str, *, required: bool = True) -> Any:
    """Exactly one of a PEM field and its `*_path` twin must be given."""
    if not isinstance(data, dict):
        return data
    has_pem = bool(data.get(pem_field))
    has_path = bool(data.get(path_field))
    if has_pem and has_path:
        raise field_problem(
            path_field, f"give {pem_field} or {path_field}, not both",
            fix=f"remove data.{pem_field} or data.{path_field} from the record.",
        )
    if required and not (has_pem or has_path):
        raise field_problem(
            pem_field, f"{pem_field} (PEM text) or {path_field} (a file) is required",
            fix=f"add data.{path_field} with the path of the PEM file, or data.{pem_field} "
            "with its text (newlines written as \\n).",
        )
    return data


def field_problem(field: str, detail: str, fix: str | None = None) -> PydanticCustomError:
    """A model-level problem that still names its field (pydantic gives such errors no loc)
    and, optionally, its own fix text."""
    ctx = {"field": field, "detail": detail, **({"fix": fix} if fix else {})}
    return PydanticCustomError("field_error", "{detail}", ctx)


def one_name(data: Any, name: str, legacy: str) -> Any:
    """A field given under its name and its legacy name must agree; then the legacy key is
    dropped (given alone, it stays, so an error about its value names the key the user wrote).

    The error names both fields and never either value (a username is not a secret, but the
    rule for record values is one rule).
    """
    if not isinstance(data, dict) or legacy not in data or name not in data:
        return data
    if data[name] != data[legacy]:
        raise field_problem(
            name, f"{name} and its legacy name {legacy} are both given and differ",
            fix=f"keep data.{name} and remove data.{legacy} from the record.",
        )
    data = dict(data)
    del data[legacy]
    return data
