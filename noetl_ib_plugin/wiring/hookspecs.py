"""The hooks a NoETL plugin implements; each hands the plugin a `register` callback."""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

__all__ = [
    "PROJECT",
    "RegisterAction",
    "RegisterCredentialType",
    "RegisterTokenProvider",
    "hookimpl",
    "hookspec",
]

PROJECT = "noetl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegisterCredentialType(Protocol):
    """`register(type_name, data_model)`: a pydantic model that validates the record's `data`."""

    def __call__(self, type_name: str, data_model: Any) -> None: ...


class RegisterTokenProvider(Protocol):
    """`register(type_name, factory)`: `factory(data_model_instance, cache=token_cache,
    retry_policy=..., deadline=...)` returns a TokenProvider over that cache (`cache` is omitted
    when the caller has none; a `Host` passes the `common.backoff.RetryPolicy` and the total
    seconds per HTTP call its `Settings` read)."""

    def __call__(self, type_name: str, factory: Any) -> None: ...


class RegisterAction(Protocol):
    """`register(action)`: an `noetl_ib_plugin.actions.Action` (name, input model, run, ...)."""

    def __call__(self, action: Any) -> None: ...


@hookspec
def noetl_register_credential_types(register: RegisterCredentialType) -> None:
    """Add credential types, so records of that `type` validate and load by name."""


@hookspec
def noetl_register_token_providers(register: RegisterTokenProvider) -> None:
    """Add token providers, so `get_token_provider(record)` finds one by credential type."""


@hookspec
def noetl_register_actions(register: RegisterAction) -> None:
    """Add actions, so playbooks and `run_action` call them by name."""
