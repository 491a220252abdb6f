"""`main(**args)` for NoETL `kind: python` steps (distributed runtime): one action, one dict back.

The NoETL worker runs the step's `code:` in a fresh interpreter (the step's `python:`), puts the
rendered `args:` in globals and calls `main(**args)`; whatever `main` returns becomes the step
result. So a step only needs::

    code: |
      from noetl_ib_plugin.entry import main

The credential can arrive three ways:

1. ``credential="ib_paper"`` -- a record name, resolved like the CLI does
   (``credentials_file`` / ``NOETL_IB_CREDENTIALS``, NoETL's alias store, ``NOETL_SERVER_URL``);
2. ``credential={"name": ..., "type": ..., "data": {...}}`` -- a whole record;
3. individual fields from the keychain, which is how the distributed runtime hands out secrets
   (``{{ keychain.<alias>.<field> }}`` renders scalars only)::

       credential_type: interactive_brokers_oauth
       client_id: "{{ keychain.ib_paper.client_id }}"
       key_id: "{{ keychain.ib_paper.key_id }}"
       private_key: "{{ keychain.ib_paper.private_key }}"
       credential: "{{ keychain.ib_paper.credential }}"     # the IBKR username field
       api_base_url: "{{ keychain.ib_paper.api_base_url }}"

   With ``credential_type`` present, every argument whose name is a field of that type's data
   model (``noetl-ib actions`` lists action arguments; the README lists credential fields) goes
   into the credential -- including ``credential`` (the username) and ``account_id`` -- and the
   rest are the action's arguments. Empty strings are dropped, because Jinja renders a keychain
   field that is not set as "". ``credential_name`` names the record in logs and the token cache
   (default ``keychain``).

Errors are raised (the step fails with the plugin's message, never a secret); pass
``on_error="return"`` to get ``{"ok": false, "error": {...}}`` back and route on it instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["main", "split_credential_fields"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(value: Any, field: str) -> bool:
    """Jinja renders booleans as strings; "false" must not become True."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int):
        return bool(value)
    from .errors import InputError

    raise InputError(f"must be true or false, got {type(value).__name__}", field=field)


def split_credential_fields(
    credential_type: str, params: Mapping[str, Any], credential: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(credential data, action params): a field of the type's data model belongs to the credential."""
    from .errors import CredentialError
    from .plugins import registry

    types = registry().credential_types
    model = types.get(credential_type)
    if model is None:
        raise CredentialError(
            f"unknown credential type {credential_type!r}",
            field="credential_type",
            fix=f"use one of: {', '.join(sorted(types))}.",
        )
    fields = set(model.model_fields)
    data: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in params.items():
        if key in fields:
            if value is not None and value != "":
                data[key] = value
        else:
            rest[key] = value
    if "credential" in fields and isinstance(credential, str) and credential:
        data["credential"] = credential
    elif credential not in (None, ""):
        raise CredentialError(
            "must be the IBKR username field when credential_type is given",
            field="credential",
            fix="pass the record's fields individually, or drop credential_type and pass a record name.",
        )
    return data, rest


def _resolve(
    credential: Any, credential_type: str | None, credential_name: str | None, params: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """The credential to hand to the runner (a name or a parsed record) and the action params."""
    from .credentials import parse_record
    from .errors import CredentialError
    from .plugins import registry

    if credential_type:
        data, rest = split_credential_fields(credential_type, params, credential)
        raw = {"name": credential_name or "keychain", "type": credential_type, "data": data}
        return parse_record(raw, registry().credential_types), rest
    if isinstance(credential, Mapping):
        raw = dict(credential)
        raw.setdefault("name", credential_name or "inline")
        return parse_record(raw, registry().credential_types), params
    if isinstance(credential, str) and credential.strip():
        return credential.strip(), params
    raise CredentialError(
        "is required",
        field="credential",
        fix="pass credential=<record name>, a record dict, or credential_type plus the "
        "record's fields from the keychain.",
    )


def main(
    action: str,
    credential: str | Mapping[str, Any] | None = None,
    credentials_file: str | None = None,
    *,
    credential_type: str | None = None,
    credential_name: str | None = None,
    allow_live: bool | str = False,
    on_error: str = "raise",
    **params: Any,
) -> dict[str, Any]:
    """Run `action` with `params` and return its result dict (see the module docstring)."""
    from .errors import IBPluginError, InputError

    if on_error not in ("raise", "return"):
        raise InputError("must be 'raise' or 'return'", field="on_error")
    try:
        resolved, action_params = _resolve(credential, credential_type, credential_name, dict(params))
        from .runner import run_action

        result = run_action(
            action,
            resolved,
            credentials_file=credentials_file or None,
            allow_live=_as_bool(allow_live, "allow_live"),
            **action_params,
        )
    except IBPluginError as exc:
        if on_error == "return":
            return {"ok": False, "error": {**exc.to_dict(), "category": exc.category}}
        raise
    return dict(result)
