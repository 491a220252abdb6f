"""An OAuth 1.0a credential built from the environment variables trading bots already use.

Variables (IBKR's OAuth 1.0a self-service portal issues the values):

- ``OAUTH_CONSUMER_KEY`` — consumer key (required)
- ``OAUTH_ACCESS_TOKEN`` — access token (required, secret)
- ``OAUTH_ACCESS_TOKEN_SECRET`` — base64 access token secret (required, secret)
- ``OAUTH_SIGNATURE_PATH`` — path to private_signature.pem (required)
- ``OAUTH_ENCRYPTION_PATH`` — path to private_encryption.pem (required)
- ``OAUTH_DH_PRIME`` — Diffie-Hellman prime as hex, or the path to dhparam.pem (required)
- ``PAPER_TRADING`` — ``true`` (default) or ``false``; ``false`` makes the record
  ``environment: live`` (trading a live account still needs ``allow_live``)
- optional: ``OAUTH_REALM``, ``IBKR_ACCOUNT_ID``, ``IBKR_API_BASE_URL``

The record is named ``env``: ``noetl-ib run get_positions --credential env``. Errors name the
variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..common.flags import parse_flag
from ..errors import CredentialError
from .models import OAUTH1A_TYPE, CredentialData, OAuth1aData
from .records import parse_record

__all__ = ["ENV_CREDENTIAL_NAME", "ENV_VARIABLES", "EnvironmentStore", "record_from_environment"]

#: The credential name this store answers to.
ENV_CREDENTIAL_NAME = "env"

#: OAuth 1.0a record field -> environment variable (required ones first).
ENV_VARIABLES: dict[str, str] = {
    "consumer_key": "OAUTH_CONSUMER_KEY",
    "access_token": "OAUTH_ACCESS_TOKEN",
    "access_token_secret": "OAUTH_ACCESS_TOKEN_SECRET",
    "signature_key_path": "OAUTH_SIGNATURE_PATH",
    "encryption_key_path": "OAUTH_ENCRYPTION_PATH",
    "dh_prime": "OAUTH_DH_PRIME",
}
_OPTIONAL: dict[str, str] = {
    "realm": "OAUTH_REALM",
    "account_id": "IBKR_ACCOUNT_ID",
    "api_base_url": "IBKR_API_BASE_URL",
}
_HINTS = {
    "OAUTH_CONSUMER_KEY": "the 9-character consumer key from IBKR's OAuth self-service portal",
    "OAUTH_ACCESS_TOKEN": "the access token from IBKR's OAuth self-service portal",
    "OAUTH_ACCESS_TOKEN_SECRET": "the base64 access token secret from the same portal",
    "OAUTH_SIGNATURE_PATH": "the path of private_signature.pem",
    "OAUTH_ENCRYPTION_PATH": "the path of private_encryption.pem",
    "OAUTH_DH_PRIME": "the path of dhparam.pem (or the prime as hex)",
}


def _variable_for(field: str | None) -> str | None:
    """The environment variable behind a record field such as `data.signature_key_path`."""
    name = (field or "").removeprefix("data.")
    return {**ENV_VARIABLES, **_OPTIONAL, "signature_key": ENV_VARIABLES["signature_key_path"],
            "encryption_key": ENV_VARIABLES["encryption_key_path"],
            "environment": "PAPER_TRADING"}.get(name)


def _paper(environ: Mapping[str, str]) -> bool:
    """PAPER_TRADING: unset or true-ish means paper; false-ish means live."""
    raw = environ.get("PAPER_TRADING", "")
    paper = parse_flag(raw) if raw.strip() else True
    if paper is not None:
        return paper
    raise CredentialError(
        "must be true or false",
        field="PAPER_TRADING",
        fix="export PAPER_TRADING=true",
    )


def record_from_environment(
    environ: Mapping[str, str] | None = None, name: str = ENV_CREDENTIAL_NAME
) -> dict[str, Any]:
    """The raw `interactive_brokers_oauth1a` record; CredentialError names a missing variable."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    for field, var in ENV_VARIABLES.items():
        value = env.get(var, "").strip()
        if not value:
            raise CredentialError(
                "is not set",
                field=var,
                fix=f"set {var} to {_HINTS[var]}.",
            )
        data[field] = value
    for field, var in _OPTIONAL.items():
        value = env.get(var, "").strip()
        if value:
            data[field] = value
    data["environment"] = "paper" if _paper(env) else "live"
    return {
        "name": name,
        "type": OAUTH1A_TYPE,
        "description": "IBKR OAuth 1.0a from OAUTH_* environment variables",
        "tags": ["environment"],
        "data": data,
    }


def checked_record(
    environ: Mapping[str, str] | None = None,
    types: Mapping[str, type[CredentialData]] | None = None,
    name: str = ENV_CREDENTIAL_NAME,
) -> dict[str, Any]:
    """`record_from_environment`, with the keys and DH prime loaded so errors name the variable."""
    raw = record_from_environment(environ, name)
    try:
        data = parse_record(raw, types).data
        if isinstance(data, OAuth1aData):
            data.check()
    except CredentialError as exc:
        var = _variable_for(exc.field)
        if var is None:
            raise
        raise CredentialError(
            exc.message.replace(exc.field or "", var),
            field=var,
            fix=exc.fix.replace(exc.field or "", var) if exc.fix else f"check {var}.",
        ) from None
    return raw


class EnvironmentStore:
    """The `env` record from OAUTH_* variables; other names, or no OAUTH_* set, find nothing."""

    def __init__(self, environ: Mapping[str, str] | None = None,
                 name: str = ENV_CREDENTIAL_NAME) -> None:
        self._environ = environ
        self.name = name

    def find(self, name: str) -> Mapping[str, Any] | None:
        """The record when `name` is this store's name and any OAUTH_* variable is set."""
        env = os.environ if self._environ is None else self._environ
        if name != self.name or not any(env.get(v) for v in ENV_VARIABLES.values()):
            return None
        return checked_record(env, name=name)

    def describe(self, name: str) -> str:
        """Where this store looks; with none of its variables set, the ones to export."""
        env = os.environ if self._environ is None else self._environ
        where = f"OAUTH_* environment variables (credential name {self.name!r})"
        if name == self.name and not any(env.get(v) for v in ENV_VARIABLES.values()):
            where += f": none is set; export {', '.join(ENV_VARIABLES.values())}"
        return where
