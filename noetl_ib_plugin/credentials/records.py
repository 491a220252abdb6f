"""A NoETL credential record `{name, type, description, tags, data}` parsed into its model.

`parse_record` validates a raw record for its type; `coerce_data` accepts what a host passes
(the model, a parsed record, a whole record mapping or its `data`); `check_record_name` guards
a name before it is echoed. Every failure is a CredentialError naming the field, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from ..common.validation import check_field_names, record_error
from ..errors import CredentialError
from .fields import CONTROL, RECORD_NAME_PATTERN
from .models import BUILTIN_CREDENTIAL_TYPES, CredentialData, CredentialRecord

__all__ = ["check_record_name", "coerce_data", "parse_record"]

_D = TypeVar("_D", bound=CredentialData)


def check_record_name(name: object, field: str = "credential") -> str:
    """A credential record name (1-128 of letters, digits, `_ . : @ + -`), or a CredentialError.

    The error never echoes an invalid name: a name is user text, and a secret pasted into the
    name field (e.g. `str(record)`) must not reach a message or a log.
    """
    if not isinstance(name, str) or not name.strip():
        raise CredentialError(
            "is required", field=field, fix="pass the name of a registered credential."
        )
    if RECORD_NAME_PATTERN.fullmatch(name) is None:
        raise CredentialError(
            f"is not a credential name ({len(name)} characters; names are 1-128 letters, digits "
            "and _ . : @ + -, starting with a letter, digit or _)",
            field=field,
            fix='pass the record\'s name (e.g. "ib_paper"), not its content; to pass a whole '
            "record, give the dict itself (credential={...}) or use --credentials-file.",
        )
    return name


def coerce_data(
    credential_data: _D | CredentialRecord | Mapping[str, Any], model: type[_D], scheme: str
) -> _D:
    """Accept the model, a parsed record, a whole record mapping or its `data` (NoETL style)."""
    if isinstance(credential_data, model):
        return credential_data
    if isinstance(credential_data, CredentialRecord):
        if not isinstance(credential_data.data, model):
            raise CredentialError(
                f"record {credential_data.name!r} is of type {credential_data.type!r}, not {scheme}",
                field="type",
                fix="use get_token_provider(record) to pick the provider for its type.",
            )
        return credential_data.data
    if not isinstance(credential_data, Mapping):
        raise CredentialError(
            f"expected the credential's data object, got {type(credential_data).__name__}",
            field="data",
            fix=f"pass the record's `data` mapping, the record, or a {model.__name__}.",
        )
    data: Mapping[str, Any] = credential_data
    inner = data.get("data")
    if "type" in data and isinstance(inner, Mapping):
        data = inner
    check_field_names(data, model, "data.")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise record_error(exc, "data.", model) from None


def parse_record(
    raw: Mapping[str, Any],
    types: Mapping[str, type[CredentialData]] | None = None,
) -> CredentialRecord:
    """Validate one NoETL credential record; `types` maps type names to data models."""
    known = dict(BUILTIN_CREDENTIAL_TYPES if types is None else types)
    if not isinstance(raw, Mapping):
        raise CredentialError(
            f"a credential record must be a JSON object, got {type(raw).__name__}",
            field="record",
            fix="use the shape of credentials.example.json: {name, type, description, tags, data}.",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CredentialError("is required", field="name", fix='give the record a name, e.g. "ib_paper".')
    check_record_name(name, "name")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise CredentialError(
            "is required",
            field="type",
            fix=f"set type to one of: {', '.join(sorted(known))}.",
        )
    model = known.get(kind)
    if model is None:
        raise CredentialError(
            f"unknown credential type {kind!r}"
            if RECORD_NAME_PATTERN.fullmatch(kind) else
            f"is not a credential type ({len(kind)} characters)",
            field="type",
            fix=f"use one of: {', '.join(sorted(known))}, or install the plugin that provides it.",
        )
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise CredentialError(
            "is required and must be an object",
            field="data",
            fix="put the IBKR fields under data (see credentials.example.json).",
        )
    check_field_names(data, model, "data.")
    try:
        parsed = model.model_validate(dict(data))
    except ValidationError as exc:
        raise record_error(exc, "data.", model) from None
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CredentialError("must be a list of strings", field="tags", fix='e.g. ["ib"].')
    if len(tags) > 64 or any(len(t) > 128 or CONTROL.search(t) for t in tags):
        raise CredentialError(
            "must be at most 64 tags of at most 128 printable characters",
            field="tags",
            fix='e.g. ["ib", "paper"].',
        )
    description = raw.get("description")
    if isinstance(description, str) and len(description) > 4096:
        raise CredentialError(
            f"is {len(description)} characters long; at most 4096",
            field="description",
            fix="shorten it.",
        )
    return CredentialRecord(
        name=name,
        type=kind,
        description=description if isinstance(description, str) else None,
        tags=list(tags),
        data=parsed,
    )
