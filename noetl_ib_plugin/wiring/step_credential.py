"""The credential of a NoETL step (`entry.main`): a keychain object, fields, or a record name.

The three forms and their order are described in `noetl_ib_plugin.entry`'s docstring; every
failure is a CredentialError naming the argument, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..common.step_context import StepContext

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["resolve_step_credential", "split_credential_fields"]

_RECORD_KEYS = ("name", "type", "description", "tags")
_OAUTH1A_HINTS = ("consumer_key", "access_token_secret")


def split_credential_fields(
    credential_type: str, params: Mapping[str, Any], credential: Any = None, *,
    types: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(credential data, action params): a field of the type's data model (`types`: the
    registry's credential types) belongs to the credential."""
    from ..common.validation import field_names
    from ..errors import CredentialError

    model = _credential_model(credential_type, "credential_type", types)
    fields = field_names(model)
    data: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in params.items():
        if key in fields:
            if value is not None and value != "":
                data[key] = value
        else:
            rest[key] = value
    if "credential" in fields and isinstance(credential, str) and credential:
        if data.get("username", credential) != credential:
            # The record-level message would tell the user to edit a record the step never had.
            raise CredentialError(
                "is the legacy name of the IBKR username and differs from the username argument",
                field="credential",
                fix="drop the step's credential: argument; username: is the IBKR username.",
            )
        data["credential"] = credential
    elif credential not in (None, ""):
        raise CredentialError(
            "must be the IBKR username field when credential_type is given",
            field="credential",
            fix="pass the record's fields individually, or drop credential_type and pass a record name.",
        )
    return data, rest


def _credential_model(type_name: str, field: str, types: Mapping[str, Any]) -> Any:
    """The data model registered for `type_name`, or a CredentialError listing the known types."""
    from ..errors import CredentialError

    model = types.get(type_name)
    if model is None:
        raise CredentialError(
            f"unknown credential type {type_name!r}",
            field=field,
            fix=f"use one of: {', '.join(sorted(types))}.",
        )
    return model


def _keychain_object(credential: Any) -> Mapping[str, Any] | None:
    """A whole keychain object: a dict, or the same rendered as a JSON string."""
    if isinstance(credential, Mapping):
        return credential
    if isinstance(credential, str) and credential.lstrip().startswith("{"):
        try:
            parsed = json.loads(credential)
        except (ValueError, RecursionError):
            from ..errors import CredentialError

            raise CredentialError(
                "looks like a keychain object but is not valid JSON",
                field="credential",
                fix='pass credential: "{{ keychain.<alias> }}" unquoted inside args, or a record name.',
            ) from None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _record_from_object(
    obj: Mapping[str, Any], credential_type: str | None, credential_name: str | None,
    types: Mapping[str, Any],
) -> Any:
    """Parse a keychain object, flat `data` or a whole record, into a CredentialRecord."""
    from ..credentials import parse_record
    from ..errors import CredentialError

    for _ in range(3):
        # A wrapped record ({status, data: record}, NoETL's keychain/credential answer shape):
        # no credential type has a field named `data`, so a nested one is always a wrapper.
        wrapped = obj.get("data")
        if not (isinstance(wrapped, Mapping) and isinstance(wrapped.get("data"), Mapping)):
            break
        obj = wrapped
    inner = obj.get("data")
    if isinstance(inner, Mapping):
        data = dict(inner)
        meta = {k: obj[k] for k in _RECORD_KEYS if obj.get(k) not in (None, "")}
    else:
        data = {k: v for k, v in obj.items() if k not in _RECORD_KEYS}
        meta = {k: obj[k] for k in ("name", "type") if isinstance(obj.get(k), str) and obj[k]}
    data = {k: v for k, v in data.items() if v is not None and v != ""}
    if not data:
        raise CredentialError(
            "the keychain object has no fields",
            field="credential",
            fix="check that the playbook's keychain alias names a registered credential "
            "(set NOETL_KEYCHAIN_STRICT=1 on the workers to fail on unresolved aliases).",
        )
    kind = credential_type or meta.get("type")
    if not kind:
        kind = "interactive_brokers_oauth1a" if any(k in data for k in _OAUTH1A_HINTS) else (
            "interactive_brokers_oauth"
        )
    _credential_model(str(kind), "credential_type" if credential_type else "type", types)
    raw = {**meta, "name": credential_name or meta.get("name") or "keychain", "type": kind,
           "data": data}
    return parse_record(raw, dict(types))


def _load_by_name(name: str, credentials_file: str | None, ctx: StepContext,
                  types: Mapping[str, Any], settings: Settings) -> Any:
    """Explicit file (else `settings.credentials_file`), then the step's NoETL server (with
    execution_id), then the local alias store (`settings`' directory and environment)."""
    from ..credentials import load_credential
    from ..credentials.stores import AliasStore, ChainStore, CredentialStore, FileStore, ServerStore
    from .settings import credentials_dir_from

    stores: list[CredentialStore] = []
    path = credentials_file or settings.credentials_file
    if path:
        stores.append(FileStore(path))
    if ctx.server_url:
        stores.append(ServerStore(ctx.server_url, execution_id=ctx.execution_id,
                                  trusted_http_hosts=settings.http_server_hosts))
    stores.append(AliasStore(settings.credentials_dir or credentials_dir_from({}),
                             settings.environ))
    return load_credential(name, types=dict(types), store=ChainStore(stores))


def _served_data_is_not_local(data: Any, ctx: StepContext) -> None:
    """Under a NoETL worker (the step knows its server) the step's arguments, keychain objects
    included, come from the server: they may not name files on the worker."""
    if not ctx.server_url:
        return
    from ..credentials.server_records import check_no_local_files

    fields = data.model_dump() if hasattr(data, "model_dump") else data
    if isinstance(fields, Mapping):
        check_no_local_files(fields, "the step's credential (served by its NoETL server)",
                             "ALIAS")


def resolve_step_credential(
    credential: Any,
    credential_type: str | None,
    credential_name: str | None,
    params: dict[str, Any],
    *,
    credentials_file: str | None,
    ctx: StepContext,
    types: Mapping[str, Any],
    settings: Settings,
) -> tuple[Any, dict[str, Any]]:
    """(CredentialRecord, action params) from the step's arguments, trying the three forms in
    order (entry's module docstring): a keychain object, `credential_type` plus fields, a name
    (looked up in the stores `settings`, the front door's, say).

    Raises CredentialError naming `credential`, `credential_type` or the record's field.
    """
    from ..errors import CredentialError

    obj = _keychain_object(credential)
    if obj is not None:
        if credential_type:
            _, params = split_credential_fields(credential_type, params, types=types)
        record = _record_from_object(obj, credential_type, credential_name, types)
        _served_data_is_not_local(record.data, ctx)
        return record, params
    if credential_type:
        from ..credentials import parse_record

        data, rest = split_credential_fields(credential_type, params, credential, types=types)
        raw = {"name": credential_name or "keychain", "type": credential_type, "data": data}
        _served_data_is_not_local(data, ctx)
        return parse_record(raw, dict(types)), rest
    if isinstance(credential, str) and credential.strip():
        return _load_by_name(credential.strip(), credentials_file, ctx, types, settings), params
    if credential not in (None, ""):
        raise CredentialError(
            f"must be a record name or a keychain object, got {type(credential).__name__}",
            field="credential",
            fix='pass credential: "{{ keychain.<alias> }}" (the whole record) or a record name.',
        )
    raise CredentialError(
        "is required",
        field="credential",
        fix='pass credential: "{{ keychain.<alias> }}" (the whole record), a record name, or '
        "credential_type plus the record's fields from the keychain.",
    )
