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

ibind's names (ibind 0.2.2, ``ibind/var.py``) are accepted where ours are unset:
``IBIND_OAUTH1A_CONSUMER_KEY``, ``IBIND_OAUTH1A_ACCESS_TOKEN``,
``IBIND_OAUTH1A_ACCESS_TOKEN_SECRET``, ``IBIND_OAUTH1A_SIGNATURE_KEY_FP`` (or the PEM itself in
``IBIND_OAUTH1A_SIGNATURE_KEY``), ``IBIND_OAUTH1A_ENCRYPTION_KEY_FP`` (or
``IBIND_OAUTH1A_ENCRYPTION_KEY``), ``IBIND_OAUTH1A_DH_PRIME``, ``IBIND_OAUTH1A_REALM``,
``IBIND_ACCOUNT_ID`` and ``IBIND_OAUTH1A_REST_URL`` (its ``/v1/api/`` suffix dropped).

The record is named ``env``: ``noetl-ib run get_positions --credential env``. One error names
every missing or unusable variable (the one that was set, ours or ibind's), never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..common.flags import parse_flag
from ..errors import CredentialError
from .models import OAUTH1A_TYPE, CredentialData, OAuth1aData
from .records import parse_record

__all__ = [
    "ENV_CREDENTIAL_NAME",
    "ENV_VARIABLES",
    "IBIND_VARIABLES",
    "EnvironmentStore",
    "record_from_environment",
]

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
#: Record field -> ibind 0.2.2's variable (ibind/var.py), read when ours is unset.
IBIND_VARIABLES: dict[str, str] = {
    "consumer_key": "IBIND_OAUTH1A_CONSUMER_KEY",
    "access_token": "IBIND_OAUTH1A_ACCESS_TOKEN",
    "access_token_secret": "IBIND_OAUTH1A_ACCESS_TOKEN_SECRET",
    "signature_key_path": "IBIND_OAUTH1A_SIGNATURE_KEY_FP",
    "encryption_key_path": "IBIND_OAUTH1A_ENCRYPTION_KEY_FP",
    "dh_prime": "IBIND_OAUTH1A_DH_PRIME",
    "realm": "IBIND_OAUTH1A_REALM",
    "account_id": "IBIND_ACCOUNT_ID",
    "api_base_url": "IBIND_OAUTH1A_REST_URL",
}
#: Key path field -> (PEM field, ibind's variable holding the PEM itself).
_IBIND_PEMS: dict[str, tuple[str, str]] = {
    "signature_key_path": ("signature_key", "IBIND_OAUTH1A_SIGNATURE_KEY"),
    "encryption_key_path": ("encryption_key", "IBIND_OAUTH1A_ENCRYPTION_KEY"),
}
#: ibind's REST URL ends in the API path; our api_base_url is the origin.
_IBIND_API_PATH = "/v1/api"
_HINTS = {
    "OAUTH_CONSUMER_KEY": "the 9-character consumer key from IBKR's OAuth self-service portal",
    "OAUTH_ACCESS_TOKEN": "the access token from IBKR's OAuth self-service portal",
    "OAUTH_ACCESS_TOKEN_SECRET": "the base64 access token secret from the same portal",
    "OAUTH_SIGNATURE_PATH": "the path of private_signature.pem",
    "OAUTH_ENCRYPTION_PATH": "the path of private_encryption.pem",
    "OAUTH_DH_PRIME": "the path of dhparam.pem (or the prime as hex)",
}


def _any_set(env: Mapping[str, str]) -> bool:
    """True when any required variable, ours or ibind's, is set."""
    names = [*ENV_VARIABLES.values(), *(IBIND_VARIABLES[f] for f in ENV_VARIABLES),
             *(pem for _, pem in _IBIND_PEMS.values())]
    return any(env.get(v) for v in names)


def _read(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(record data, field -> the variable it came from, our names of the missing variables)."""
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    missing: list[str] = []
    for field, var in {**ENV_VARIABLES, **_OPTIONAL}.items():
        for name in (var, IBIND_VARIABLES[field]):
            value = env.get(name, "").strip()
            if value:
                if name == "IBIND_OAUTH1A_REST_URL":
                    value = value.rstrip("/").removesuffix(_IBIND_API_PATH)
                data[field], sources[field] = value, name
                break
        else:
            pem = _IBIND_PEMS.get(field)
            if pem and env.get(pem[1], "").strip():
                data[pem[0]], sources[pem[0]] = env[pem[1]], pem[1]
            elif field in ENV_VARIABLES:
                missing.append(var)
    return data, sources, missing


def _missing_error(missing: list[str]) -> CredentialError:
    """One error naming every missing variable, each with ibind's alias and what it holds."""
    by_var = {v: f for f, v in ENV_VARIABLES.items()}
    fixes = [f"{var} (or {IBIND_VARIABLES[by_var[var]]}) to {_HINTS[var]}" for var in missing]
    others = f" (nor {', '.join(missing[1:])})" if len(missing) > 1 else ""
    return CredentialError(f"is not set{others}", field=missing[0], fix=f"set {'; '.join(fixes)}.")


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
    environ: Mapping[str, str], name: str = ENV_CREDENTIAL_NAME
) -> dict[str, Any]:
    """The raw `interactive_brokers_oauth1a` record from `environ` (a front door passes
    `os.environ`); CredentialError names a missing variable."""
    env = environ
    data, _, missing = _read(env)
    if missing:
        raise _missing_error(missing)
    data["environment"] = "paper" if _paper(env) else "live"
    return {
        "name": name,
        "type": OAUTH1A_TYPE,
        "description": "IBKR OAuth 1.0a from OAUTH_* environment variables",
        "tags": ["environment"],
        "data": data,
    }


def _renamed(exc: CredentialError, sources: Mapping[str, str]) -> CredentialError | None:
    """`exc` told in terms of the variable behind its record field (None: no variable is)."""
    field = (exc.field or "").removeprefix("data.")
    var = sources.get(field) or sources.get(f"{field}_path")
    if var is None and field == "environment":
        var = "PAPER_TRADING"
    if var is None:
        return None
    where = exc.field or ""
    return CredentialError(exc.message.replace(where, var), field=var,
                           fix=exc.fix.replace(where, var) if exc.fix else f"check {var}.")


def checked_record(
    environ: Mapping[str, str],
    types: Mapping[str, type[CredentialData]] | None = None,
    name: str = ENV_CREDENTIAL_NAME,
) -> dict[str, Any]:
    """`record_from_environment`, with the keys and DH prime loaded: one error names every
    unusable variable (as it was set: ours or ibind's)."""
    env = environ
    raw = record_from_environment(env, name)
    sources = _read(env)[1]
    problems: list[CredentialError] = []
    try:
        data = parse_record(raw, types).data
        loads = ([data.signature_rsa_key, data.encryption_rsa_key, data.dh_parameters]
                 if isinstance(data, OAuth1aData) else [])
    except CredentialError as exc:
        problems.append(_renamed(exc, sources) or exc)
        loads = []
    for load in loads:
        try:
            load()
        except CredentialError as exc:
            renamed = _renamed(exc, sources)
            if renamed is None:
                raise
            problems.append(renamed)
    if not problems:
        return raw
    first = problems[0]
    if len(problems) == 1:
        raise first
    also = "; ".join(f"{exc.field}: {exc.message}" for exc in problems[1:])
    raise CredentialError(f"{first.message}; also {also}", field=first.field,
                          fix=" ".join(exc.fix or "" for exc in problems).strip())


class EnvironmentStore:
    """The `env` record from the OAUTH_* variables of `environ` (a front door's mapping); other
    names, or no OAUTH_* set, find nothing."""

    def __init__(self, environ: Mapping[str, str], name: str = ENV_CREDENTIAL_NAME) -> None:
        self._environ = environ
        self.name = name

    def find(self, name: str) -> Mapping[str, Any] | None:
        """The record when `name` is this store's name and any OAUTH_* variable is set."""
        env = self._environ
        if name != self.name or not _any_set(env):
            return None
        return checked_record(env, name=name)

    def describe(self, name: str) -> str:
        """Where this store looks; with none of its variables set, the ones to export."""
        env = self._environ
        where = f"OAUTH_* environment variables (credential name {self.name!r})"
        if name == self.name and not _any_set(env):
            where += f": none is set; export {', '.join(ENV_VARIABLES.values())}"
        return where
