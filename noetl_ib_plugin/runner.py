"""The library front door: resolve a credential, get the host's client for it, validate, run an
action. Holds the process-default `Host` of the front doors that are not handed one."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .actions.spec import Action
from .auth.base import TokenProvider
from .client import IBClient
from .common.progress import Progress
from .common.step_context import current_step
from .common.validation import input_error
from .credentials import CredentialRecord, parse_record
from .credentials import load_credential as load_from_stores
from .errors import InputError
from .wiring.host import Host
from .wiring.settings import Settings

if TYPE_CHECKING:
    from .actions.outputs.base import ActionResult

__all__ = [
    "check_allow_live",
    "default_host",
    "get_client",
    "get_token_provider",
    "list_actions",
    "load_credential",
    "output_schema",
    "reset_default_host",
    "resolve_credential",
    "run_action",
    "run_action_typed",
]


#: Action names as registered: echoed in errors only when they look like one.
_ACTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


_default: Host | None = None
_default_lock = threading.Lock()


def default_host() -> Host:
    """This process's host, for the front doors that are not handed one (CLI, `entry.main`,
    `run_action`): built on first use from the environment, and built again when the
    environment's settings change (keeping the loaded plugin registry)."""
    global _default
    settings = Settings.from_environ(os.environ)
    with _default_lock:
        if _default is None or _default.settings != settings:
            loaded = _default.loaded_registry if _default is not None else None
            _default = Host(settings, registry=loaded)
        return _default


def reset_default_host() -> None:
    """Close and forget this process's host (tests, or a host reloading credentials or plugins)."""
    global _default
    with _default_lock:
        host, _default = _default, None
    if host is not None:
        host.close()


def resolve_credential(
    credential: str | Mapping[str, Any] | CredentialRecord,
    credentials_file: str | os.PathLike[str] | None = None,
    *,
    host: Host | None = None,
) -> CredentialRecord:
    """A record from its name (stores), a raw record dict, or a parsed record."""
    if isinstance(credential, CredentialRecord):
        return credential
    host = host or default_host()
    types = host.registry.credential_types
    if isinstance(credential, Mapping):
        return parse_record(credential, types)
    if isinstance(credential, str):
        return load_from_stores(credential, store=host.credential_store(credentials_file),
                                types=types)
    raise InputError(
        f"must be a credential name, a record object or a CredentialRecord, "
        f"not {type(credential).__name__}",
        field="credential",
    )


def load_credential(name: str, credentials_file: str | os.PathLike[str] | None = None, *,
                    host: Host | None = None) -> CredentialRecord:
    """Resolve a record by name (file, NoETL alias store, NoETL server) for any registered type."""
    host = host or default_host()
    return load_from_stores(name, store=host.credential_store(credentials_file),
                            types=host.registry.credential_types)


def get_client(record: CredentialRecord, *, host: Host | None = None,
               progress: Progress | None = None) -> IBClient:
    """The host's `IBClient` for `record` in the current NoETL step (if any): one per record
    and token cache; `progress` (the front door's) is told about long waits of a client this
    call creates."""
    return (host or default_host()).client(record, current_step(), progress=progress)


def get_token_provider(record: CredentialRecord | Mapping[str, Any] | str, *,
                       host: Host | None = None) -> TokenProvider:
    """A new provider registered for the record's type, over the host's token cache; accepts a
    record, a record dict or a name."""
    host = host or default_host()
    return host.token_provider(resolve_credential(record, host=host), current_step())


def _input_error(action: Action, exc: ValidationError) -> InputError:
    """First validation problem of the action's inputs (one translator: validation.py)."""
    return input_error(action.name, exc, action.input_model)


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
    host: Host | None = None,
    **args: Any,
) -> dict[str, Any]:
    """Run a registered action by name and return its result as JSON (a dict).

    The dict is what `noetl-ib run` prints and `entry.main` returns (without `ok`): the output
    model's `model_dump(mode="json")`. `run_action_typed` gives the model itself. `name` is
    positional-only, so an action argument called `name` is validated like any other. Raises
    InputError (unknown action, bad arguments) and the action's typed errors.
    """
    from .actions.outputs.base import output_json  # not at import: the registry stays action-free

    return output_json(run_action_typed(name, credential, credentials_file=credentials_file,
                                        allow_live=allow_live, host=host, **args))


def run_action_typed(
    name: str,
    /,
    credential: str | Mapping[str, Any] | CredentialRecord,
    *,
    credentials_file: str | os.PathLike[str] | None = None,
    allow_live: bool = False,
    host: Host | None = None,
    progress: Progress | None = None,
    **args: Any,
) -> ActionResult:
    """Run a registered action by name and return its output model (`actions.outputs`).

    A dict comes back only from an action that declares no output model, or when the model
    refused the result (logged; an accepted order is never lost). Arguments and errors as
    `run_action`; `progress` (a front door's) is told about waits of a second or more.
    """
    check_allow_live(allow_live)
    host = host or default_host()
    actions = host.registry.actions
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
        raise _input_error(action, exc) from None
    record = resolve_credential(credential, credentials_file, host=host)
    client = get_client(record, host=host, progress=progress).with_options(allow_live=allow_live)
    if action.trading:
        client.ensure_trading_allowed(getattr(validated, "account_id", None))
    from .actions.outputs.base import typed_output

    run: Callable[..., Any] = action.run
    if action.streams:  # the host builds the step's streams (one composition root)
        return typed_output(action.output_model,
                            run(client, validated, open_stream=partial(host.stream, client)), name)
    return typed_output(action.output_model, run(client, validated), name)


def output_schema(action: Action) -> dict[str, Any] | None:
    """The JSON schema of an action's result, or None for an action without an output model."""
    model = action.output_model
    return model.model_json_schema(mode="serialization") if model is not None else None


def list_actions(*, host: Host | None = None) -> list[dict[str, Any]]:
    """Every registered action: name, description, whether it trades, and its input JSON schema."""
    return [
        {
            "name": action.name,
            "description": action.description,
            "trading": action.trading,
            "input_schema": action.input_model.model_json_schema(),
            "output_schema": output_schema(action),
        }
        for action in sorted((host or default_host()).registry.actions.values(), key=lambda a: a.name)
    ]
