"""The plugin layer: resolve a credential, reuse one client per credential, validate, run an action."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from .actions.outputs.base import ActionResult, output_json, typed_output
from .actions.spec import Action
from .auth.base import fingerprint
from .client import IBClient
from .credentials import CredentialRecord, load_credential, parse_record
from .errors import InputError
from .plugins import registry
from .progress import Progress
from .runtime import RUNTIME
from .validation import input_error

__all__ = [
    "check_allow_live",
    "clear_clients",
    "get_client",
    "list_actions",
    "output_schema",
    "resolve_credential",
    "run_action",
    "run_action_typed",
]


#: Action names as registered: echoed in errors only when they look like one.
_ACTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def resolve_credential(
    credential: str | Mapping[str, Any] | CredentialRecord,
    credentials_file: str | os.PathLike[str] | None = None,
) -> CredentialRecord:
    """A record from its name (stores), a raw record dict, or a parsed record."""
    types = registry().credential_types
    if isinstance(credential, CredentialRecord):
        return credential
    if isinstance(credential, Mapping):
        return parse_record(credential, types)
    if isinstance(credential, str):
        return load_credential(credential, credentials_file, types=types)
    raise InputError(
        f"must be a credential name, a record object or a CredentialRecord, "
        f"not {type(credential).__name__}",
        field="credential",
    )


def _record_key(record: CredentialRecord) -> str:
    """Identity of a record's contents (secrets are hashed, never stored)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, BaseModel):
            return {k: plain(getattr(value, k)) for k in type(value).model_fields}
        return value

    payload = json.dumps({"type": record.type, "data": plain(record.data)}, sort_keys=True,
                         default=str)
    return fingerprint(payload)


def get_client(record: CredentialRecord, progress: Progress | None = None) -> IBClient:
    """One `IBClient` (and so one pooled HTTP session and pacer) per credential per process;
    `progress` (the front door's) is told about long waits of the client it creates."""

    def make() -> IBClient:
        provider = registry().token_provider_for(record)
        return IBClient(provider, account_id=record.data.account_id,
                        environment=record.data.environment, progress=progress)

    return RUNTIME.clients.get_or_create(_record_key(record), make)


def clear_clients() -> None:
    """Close and forget cached clients (`runtime.reset()` forgets everything else too)."""
    RUNTIME.clients.clear()


def _input_error(action: str, exc: ValidationError) -> InputError:
    """First validation problem of the action's inputs (one translator: validation.py)."""
    return input_error(action, exc, registry().actions[action].input_model)


def check_allow_live(allow_live: Any) -> None:
    """Only a real bool opens the live guard: the string "false" from an env var is truthy."""
    if not isinstance(allow_live, bool):
        raise InputError(
            f"must be True or False, got {type(allow_live).__name__}",
            field="allow_live",
            fix="pass allow_live=True or False.",
        )


def run_action(
    name: str,
    /,
    credential: str | Mapping[str, Any] | CredentialRecord,
    *,
    credentials_file: str | os.PathLike[str] | None = None,
    allow_live: bool = False,
    **args: Any,
) -> dict[str, Any]:
    """Run a registered action by name and return its result as JSON (a dict).

    The dict is what `noetl-ib run` prints and `entry.main` returns (without `ok`): the output
    model's `model_dump(mode="json")`. `run_action_typed` gives the model itself. `name` is
    positional-only, so an action argument called `name` is validated like any other. Raises
    InputError (unknown action, bad arguments) and the action's typed errors.
    """
    return output_json(run_action_typed(name, credential, credentials_file=credentials_file,
                                        allow_live=allow_live, **args))


def run_action_typed(
    name: str,
    /,
    credential: str | Mapping[str, Any] | CredentialRecord,
    *,
    credentials_file: str | os.PathLike[str] | None = None,
    allow_live: bool = False,
    progress: Progress | None = None,
    **args: Any,
) -> ActionResult:
    """Run a registered action by name and return its output model (`actions.outputs`).

    A dict comes back only from an action that declares no output model, or when the model
    refused the result (logged; an accepted order is never lost). Arguments and errors as
    `run_action`; `progress` (a front door's) is told about waits of a second or more.
    """
    check_allow_live(allow_live)
    actions = registry().actions
    action = actions.get(name) if isinstance(name, str) else None
    if action is None:
        shown = repr(name) if isinstance(name, str) and _ACTION_NAME.fullmatch(name) else "given"
        raise InputError(
            f"unknown action {shown}",
            field="action",
            fix=f"use one of: {', '.join(sorted(actions))}.",
        )
    try:
        validated = action.input_model.model_validate(args)
    except ValidationError as exc:
        raise _input_error(name, exc) from None
    record = resolve_credential(credential, credentials_file)
    client = get_client(record, progress).with_options(allow_live=allow_live)
    if action.trading:
        client.ensure_trading_allowed(getattr(validated, "account_id", None))
    return typed_output(action.output_model, action.run(client, validated), name)


def output_schema(action: Action) -> dict[str, Any] | None:
    """The JSON schema of an action's result, or None for an action without an output model."""
    model = action.output_model
    return model.model_json_schema(mode="serialization") if model is not None else None


def list_actions() -> list[dict[str, Any]]:
    """Every registered action: name, description, whether it trades, and its input JSON schema."""
    return [
        {
            "name": action.name,
            "description": action.description,
            "trading": action.trading,
            "input_schema": action.input_model.model_json_schema(),
            "output_schema": output_schema(action),
        }
        for action in sorted(registry().actions.values(), key=lambda a: a.name)
    ]
