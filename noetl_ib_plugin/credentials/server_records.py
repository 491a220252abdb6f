"""What a record fetched from a NoETL server may not do: be another record than the one asked
for, or name anything on the machine that reads it (key files, `dhparam.pem`).

A server that can answer a fetch could otherwise make a worker sign with a key that exists only
on the worker and post the assertion wherever the record's `token_url` points. Records that
use files on the worker belong in the worker's own stores (a NOETL_IB_CREDENTIALS file or the
alias store `noetl credential set` writes), which the server cannot write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import CredentialError
from .keys import _hex_block

__all__ = ["LOCAL_NAME_SUFFIXES", "check_no_local_files", "check_server_record"]

#: Data fields whose value names something on the local machine, by the package's naming rule
#: (`private_key_path`, `signature_key_path`, `encryption_key_path`, a plugin's `*_file`...).
LOCAL_NAME_SUFFIXES = ("_path", "_file", "_dir")
_INLINE_DH = "-----BEGIN DH PARAMETERS-----"
_LOCAL_FIX = (
    "put the PEM text itself in the record on the NoETL server (data.{pem} instead of "
    "data.{field}), or keep this record in the worker's own store (a NOETL_IB_CREDENTIALS file, "
    "or `noetl credential set {name}`); a record from a server may not name files on the worker."
)


def _names_a_file(key: str, value: Any) -> bool:
    """True when `data[key] = value` would make the plugin read a local file."""
    if value in (None, ""):
        return False
    if key.endswith(LOCAL_NAME_SUFFIXES):
        return True
    if key == "dh_prime" and isinstance(value, str):  # hex or inline PEM, else a path
        hex_digits = _hex_block(value.strip())
        inline = _INLINE_DH in value or (
            bool(hex_digits) and all(c in "0123456789abcdef" for c in hex_digits))
        return not inline
    return False


def check_server_record(asked: str, record: Mapping[str, Any], server: str) -> None:
    """Refuse (CredentialError naming the field) a server's answer for `asked` that names
    another record, or whose `data` names a local file (see LOCAL_NAME_SUFFIXES, `dh_prime`
    as a path). Values are never quoted: they may be secrets."""
    name = record.get("name")
    if name != asked:
        raise CredentialError(
            f"NoETL server {server!r} answered the fetch of credential {asked!r} with a record "
            "named otherwise",
            field="name",
            fix=f"register the record under the name the step asks for ({asked!r}) on the NoETL "
            "server, or correct the server; records whose name differs are never used.",
        )
    data = record.get("data")
    if isinstance(data, Mapping):
        check_no_local_files(data, f"the record {asked!r} from NoETL server {server!r}", asked)


def check_no_local_files(data: Mapping[str, Any], what: str, name: str) -> None:
    """Refuse `data` (from a server) naming a local file; CredentialError names the field."""
    for key in sorted(str(k) for k in data):
        if _names_a_file(key, data[key]):
            pem = "dh_prime (the hex prime)" if key == "dh_prime" else key.removesuffix("_path")
            raise CredentialError(
                f"{what} names a file on this machine",
                field=f"data.{key}",
                fix=_LOCAL_FIX.format(pem=pem, field=key, name=name),
            )
