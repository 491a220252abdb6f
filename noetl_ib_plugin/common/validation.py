"""Pydantic's validation errors as typed errors: the one translator for records and action inputs.

Both a credential record's `data` and an action's inputs are pydantic models; their first problem
becomes an error that names the field (`data.client_id`, `quantity`), says what is wrong and how
to fix it, and never echoes the value (`include_input=False`): a record's values are secrets.
A misspelt name (`qty=`, `data.clientid`) is reported as a typo with its closest real name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import CredentialError, InputError

__all__ = [
    "INPUT_FIXES",
    "RECORD_FIXES",
    "check_field_names",
    "closest",
    "field_names",
    "first_validation_problem",
    "input_error",
    "record_error",
]

_DEFAULT_FIX = "correct the value and try again."

#: pydantic error type -> fix, for a credential record's `data`.
RECORD_FIXES = {
    "missing": "add it to the record's data (see credentials.example.json).",
    "extra_forbidden": "remove it or fix its spelling; the known fields are listed in the README.",
    "literal_error": "use one of the allowed values.",
    "string_type": "give a string.",
    "int_parsing": "give a whole number.",
    "string_too_short": "give a non-empty value.",
    "string_too_long": "give a shorter value (the limit is in the message).",
    "too_long": "give a shorter value (the limit is in the message).",
    "string_pattern_mismatch": "use only the characters the message lists.",
}

#: pydantic error type -> fix, for an action's inputs.
INPUT_FIXES = {
    "missing": "add it to the action's arguments.",
    "extra_forbidden": "remove it or fix its spelling.",
    "literal_error": "use one of the allowed values.",
    "greater_than": "give a positive number.",
    "greater_than_equal": "give a larger number (the limit is in the message).",
    "less_than_equal": "give a smaller number (the limit is in the message).",
    "string_too_long": "give a shorter value (the limit is in the message).",
    "too_long": "give fewer items (the limit is in the message).",
    "string_pattern_mismatch": "use only the characters the message lists.",
}

#: Abbreviations users type for which difflib's ratio is too low (e.g. "qty" vs "quantity").
_ABBREVIATIONS = {"qty": "quantity", "px": "price", "acct": "account_id", "sym": "symbol"}


def closest(name: str, options: Iterable[str], *, cutoff: float = 0.5) -> str | None:
    """The option nearest to `name` (case-insensitive, difflib), or None when none is near enough."""
    choices = list(options)
    lowered = {o.lower(): o for o in choices}
    key = name.lower()
    if key in lowered:
        return lowered[key]
    wanted = _ABBREVIATIONS.get(key)
    if wanted in choices:
        return wanted
    hits = difflib.get_close_matches(key, list(lowered), n=1, cutoff=cutoff)
    if hits:
        return lowered[hits[0]]
    prefixed = [o for o in choices if o.lower().startswith(key) or key.startswith(o.lower())]
    return prefixed[0] if len(prefixed) == 1 else None


def first_validation_problem(
    exc: ValidationError, *, extra_message: str = "is not a known field"
) -> tuple[str, str, str, dict[str, Any]]:
    """(location, message, error type, ctx) of pydantic's first problem; never the input value."""
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    ctx = dict(err.get("ctx") or {})
    message = str(ctx.get("detail") or err.get("msg") or "is invalid").removeprefix("Value error, ")
    kind = str(err.get("type", ""))
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = extra_message
    return loc, message, kind, ctx


def field_names(model: type[BaseModel]) -> set[str]:
    """Every key a model accepts: field names, aliases and each validation-alias choice."""
    known = set(model.model_fields)
    for info in model.model_fields.values():
        if info.alias:
            known.add(info.alias)
        choices = getattr(info.validation_alias, "choices", None)
        if isinstance(info.validation_alias, str):
            known.add(info.validation_alias)
        for choice in choices or ():
            if isinstance(choice, str):
                known.add(choice)
    return known


def check_field_names(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> None:
    """An unknown key close to a known field is a typo: a CredentialError says so before other checks."""
    if model.model_config.get("extra") != "forbid":
        return  # a plugin's type that accepts extra keys: nothing is a typo
    known = field_names(model)
    foreign: dict[str, str] = getattr(model, "FOREIGN_FIELDS", {})
    for key in data:
        if isinstance(key, str) and key in foreign and key not in known:
            raise CredentialError("is not a field of this credential type",
                                  field=f"{prefix}{key}", fix=foreign[key])
        if isinstance(key, str) and key not in known:
            near = closest(key, sorted(known))
            if near:
                raise CredentialError(
                    "is not a known field",
                    field=f"{prefix}{key}",
                    fix=f"did you mean {prefix}{near}? Rename it, or remove it.",
                )


def record_error(
    exc: ValidationError, prefix: str, model: type[BaseModel] | None = None
) -> CredentialError:
    """First pydantic error of a record's `data` as a CredentialError naming the field, never the value."""
    loc, message, kind, ctx = first_validation_problem(exc)
    loc = loc or str(ctx.get("field") or "")
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "record"
    fix = str(ctx.get("fix") or RECORD_FIXES.get(kind, _DEFAULT_FIX))
    if kind == "extra_forbidden" and model is not None:
        near = closest(loc.rsplit(".", 1)[-1], model.model_fields)
        if near:
            fix = f"did you mean {prefix}{near}? Rename it, or remove it."
    return CredentialError(message, field=field or "data", fix=fix)


def input_error(action: str, exc: ValidationError, model: type[BaseModel]) -> InputError:
    """First problem of an action's inputs as an InputError naming the field; values not echoed."""
    loc, message, kind, ctx = first_validation_problem(
        exc, extra_message="is not an input of this action"
    )
    field = str(ctx.get("field") or loc or "input")
    count = exc.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    fix = str(ctx.get("fix") or INPUT_FIXES.get(kind, _DEFAULT_FIX))
    # A misspelt input (`qty=1`) also makes the real one missing: report the typo first.
    for err in exc.errors(include_input=False, include_url=False):
        if err.get("type") == "extra_forbidden" and err.get("loc"):
            name = str(err["loc"][-1])
            near = closest(name, model.model_fields)
            if near:
                field, message = name, "is not an input of this action"
                fix = f"did you mean {near}=? Rename it, or remove it."
                break
    # The caller may be a shell step or Python: name the way to see the inputs in both.
    fix += (f" Its inputs: `noetl-ib actions {action}` on the command line, "
            "`list_actions()` in Python.")
    return InputError(f"{action}: {field}: {message}{more}", field=field, fix=fix)
