"""`main(**args)` for NoETL `kind: python` steps (distributed runtime): one action, one dict back.

The NoETL worker wraps the step's `code:` in a script, runs it as ``<python> <file>``, feeds it
``{"args", "variables", "execution_id", "step", "server_url"}`` on stdin, binds `args`,
`variables`, `execution_id`, `step` and each arg as globals, then calls `main` with the args
(all of them, since `main` takes ``**kwargs``) and records the returned dict. So a step needs::

    code: |
      from noetl_ib_plugin.entry import main

**Outcome.** In step mode (the default, ``on_error="return"``) `main` never raises and prints
nothing on stdout or stderr (the worker stores both in NoETL's event log): it returns a JSON-safe
dict with ``ok``. On failure the dict is
``{"ok": false, "isError": true, "summary": "<one line>", "error": {"type", "message", "field",
"category", "fix"}}`` (category: input, auth, broker, transient, unknown, internal); for `place_order`
it adds ``outcome``: ``refused`` (nothing is working at IBKR) or ``unknown`` (check before
resending); a successful `place_order` says ``outcome: placed``. Route on
``{{ <step>.ok }}``; with ``NOETL_PROVIDER_ERROR_TERMINATES=1`` NoETL fails the step on
``isError``. Python callers pass ``on_error="raise"`` to get the typed exception
(`noetl_ib_plugin.errors`). ``log_level="DEBUG"`` (or ``NOETL_IB_LOG_LEVEL``) sends redacted logs
to stderr.

**Credentials**, tried in this order:

1. a whole keychain object, ``credential: "{{ keychain.ib_oauth }}"`` -- it arrives as a dict,
   the record (``{"type", "data": {...}}``), its flat ``data``, or a wrapped record
   (``{"status", "data": <record>}``); the type comes from
   ``credential_type``, else the record, else the fields (``consumer_key`` means OAuth 1.0a);
2. individual scalar fields, ``credential_type: interactive_brokers_oauth`` plus
   ``client_id: "{{ keychain.ib_oauth.client_id }}"`` etc.: every argument named like a field of
   that type's data model goes into the credential (``username``, or ``credential`` as before,
   is then the IBKR username);
3. a record name, ``credential: ib_oauth``: fetched from the server the step came from
   (``GET {server_url}/api/credentials/{name}?include_data=true&execution_id=...``, server from
   ``server_url=`` or the worker's ``$NOETL_SERVER_URL``), after ``credentials_file`` /
   ``$NOETL_IB_CREDENTIALS`` and before NoETL's local alias store.

Empty strings count as absent (a keychain field that is not set renders as "").
Type names ``ib_oauth`` and ``ibkr_oauth`` (NoETL's older factory) mean
``interactive_brokers_oauth``.

**Step context.** `execution_id`, `step`, `server_url` and the `catalog_id` from `variables`
are taken from the arguments, else from the worker's globals, and made current
(`noetl_ib_plugin.common.step_context`) while the action runs: the token cache then shares one token
and one brokerage session per credential through the server's keychain API
(`noetl_ib_plugin.auth.keychain_cache`).

**Deterministic client order id.** For `place_order` without ``client_order_id`` inside a
NoETL step, the id is `noetl_ib_plugin.actions.order_ticket.derive_client_order_id`
(``"nib-"`` + 24 hex of SHA-256 over the execution id, the step name and the normalised order
parameters). Re-driving the same execution and step therefore resends the same cOID, which IBKR
and this plugin treat as the same order.
`place_bracket` and `place_oca` derive their group key the same way over all their arguments
(`order_bracket.derive_group_client_order_id`); each leg's cOID is derived from that key.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .common.flags import parse_flag
from .common.step_context import StepContext
from .wiring.step_credential import resolve_step_credential

__all__ = ["default_client_order_id", "main", "split_credential_fields", "step_context_from"]


def _as_bool(value: Any, field: str) -> bool:
    """Jinja renders booleans as strings; "false" must not become True."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        flag = parse_flag(value) if value.strip() else False
        if flag is not None:
            return flag
    if isinstance(value, int):
        return bool(value)
    from .errors import InputError

    raise InputError(
        f"must be true or false, got {type(value).__name__}",
        field=field,
        fix=f"pass {field}: true or {field}: false.",
    )


def split_credential_fields(
    credential_type: str, params: Mapping[str, Any], credential: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(credential data, action params): a field of the type's data model belongs to the credential."""
    from .runner import default_host
    from .wiring.step_credential import split_credential_fields as split

    return split(credential_type, params, credential,
                 types=default_host().registry.credential_types)


def _check_control_args(args: Mapping[str, Any]) -> None:
    """Arguments that steer the step are text (ids may be ints); a list or a map is a typo'd template."""
    from .errors import InputError

    for field, value in args.items():
        if value is None or isinstance(value, str) or (
            isinstance(value, int) and not isinstance(value, bool)
            and field in ("execution_id", "catalog_id")
        ):
            continue
        raise InputError(
            f"must be text, got {type(value).__name__}",
            field=field,
            fix=f"pass {field} as a plain string in the step's args (or leave it out).",
        )


def _text(value: Any) -> str | None:
    """A context value as a non-empty string (ids arrive as ints or strings), else None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def step_context_from(
    execution_id: Any = None,
    step: Any = None,
    server_url: Any = None,
    catalog_id: Any = None,
    *,
    worker_globals: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> StepContext:
    """Explicit values first, then the worker's globals (`execution_id`, `step`, `variables`), then env.

    The server URL falls back to ``$NOETL_SERVER_URL`` (the worker's environment is inherited);
    the catalog id to ``$NOETL_IB_KEYCHAIN_CATALOG_ID`` when the step does not say.
    """
    env = os.environ if environ is None else environ
    g: Mapping[str, Any] = worker_globals if worker_globals is not None else _main_globals()
    variables = g.get("variables")
    variables = variables if isinstance(variables, Mapping) else {}
    override = _text(env.get("NOETL_IB_KEYCHAIN_CATALOG_ID"))
    url = _text(server_url) or _text(g.get("server_url")) or _text(variables.get("server_url"))
    return StepContext(
        execution_id=_text(execution_id) or _text(g.get("execution_id"))
        or _text(variables.get("execution_id")),
        step=_text(step) or _text(g.get("step")),
        server_url=(url or _text(env.get("NOETL_SERVER_URL")) or "").rstrip("/") or None,
        catalog_id=override or _text(catalog_id) or _text(variables.get("catalog_id")),
    )


def _main_globals() -> Mapping[str, Any]:
    """The globals of the script the worker generated (`__main__`), or nothing outside a worker."""
    module = sys.modules.get("__main__")
    found = getattr(module, "__dict__", None)
    return found if isinstance(found, Mapping) else {}


def default_client_order_id(execution_id: str, step: str, params: Mapping[str, Any]) -> str:
    """The step's default cOID: same execution, step and order → same id (one definition)."""
    from .actions.order_ticket import derive_client_order_id

    return derive_client_order_id(execution_id, step, params)


@contextmanager
def _quiet(log_level: str | None) -> Iterator[None]:
    """Nothing on stdout/stderr unless asked: NoETL persists both in its event log."""
    level = (log_level or os.environ.get("NOETL_IB_LOG_LEVEL") or "").strip().upper()
    package = logging.getLogger("noetl_ib_plugin")
    if level:
        from .common.logs import configure_logging

        configure_logging(0, level)
        named = logging.getLevelName(level)
        if isinstance(named, int):
            logging.getLogger().setLevel(named)
        yield
        return
    added: logging.Handler | None = None
    if not logging.getLogger().handlers and not package.handlers:
        # No host logging configured: without a handler Python's last resort prints warnings.
        added = logging.NullHandler()
        package.addHandler(added)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if added is not None:
            package.removeHandler(added)


def main(
    action: str | None = None,
    credential: str | Mapping[str, Any] | None = None,
    credentials_file: str | None = None,
    *,
    credential_type: str | None = None,
    credential_name: str | None = None,
    allow_live: bool | str = False,
    on_error: str = "return",
    log_level: str | None = None,
    execution_id: str | int | None = None,
    step: str | None = None,
    server_url: str | None = None,
    catalog_id: str | int | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Run `action` with `params` inside a NoETL step and return its result dict plus ``ok``.

    Shapes, credential forms and the failure dict are in the module docstring. Raises only with
    ``on_error="raise"`` (the typed `noetl_ib_plugin.errors` exceptions).
    """
    from .errors import InputError

    raise_errors = on_error == "raise"
    try:
        _check_control_args({
            "credential_type": credential_type, "credential_name": credential_name,
            "credentials_file": credentials_file, "log_level": log_level,
            "execution_id": execution_id, "step": step, "server_url": server_url,
            "catalog_id": catalog_id,
        })
        if on_error not in ("raise", "return"):
            raise InputError(
                f"must be 'raise' or 'return', got {str(on_error)[:20]!r}",
                field="on_error",
                fix="use on_error: return in playbooks (the default) or on_error='raise' in Python.",
            )
        with _quiet(log_level):
            return _run(action, credential=credential, credentials_file=credentials_file,
                        credential_type=credential_type, credential_name=credential_name,
                        allow_live=allow_live, execution_id=execution_id, step=step,
                        server_url=server_url, catalog_id=catalog_id, params=params)
    except Exception as exc:
        if raise_errors:
            raise
        from .common.step_result import failure_result

        return failure_result(action, exc)


def _run(
    action: str | None,
    *,
    credential: Any,
    credentials_file: str | None,
    credential_type: str | None,
    credential_name: str | None,
    allow_live: bool | str,
    execution_id: Any,
    step: Any,
    server_url: Any,
    catalog_id: Any,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Resolve the credential, make the step current, run the action; exceptions propagate."""
    from .actions.outputs import output_json
    from .common.step_context import running_step
    from .errors import InputError
    from .runner import default_host, run_action_typed

    if not isinstance(action, str) or not action.strip():
        raise InputError(
            "is required" if action is None or isinstance(action, str)
            else f"must be an action name, got {type(action).__name__}",
            field="action",
            fix="add action: <name> to the step's args (`noetl-ib actions` lists them).",
        )
    ctx = step_context_from(execution_id, step, server_url, catalog_id)
    live = _as_bool(allow_live, "allow_live")
    host = default_host()
    with running_step(ctx):
        record, action_params = resolve_step_credential(
            credential, credential_type, credential_name, dict(params),
            credentials_file=credentials_file, ctx=ctx, types=host.registry.credential_types,
            settings=host.settings,
        )
        if (action == "place_order" and not action_params.get("client_order_id")
                and ctx.execution_id and ctx.step):
            action_params["client_order_id"] = default_client_order_id(
                ctx.execution_id, ctx.step, action_params
            )
        elif (action in ("place_bracket", "place_oca") and not action_params.get("client_order_id")
                and ctx.execution_id and ctx.step):
            from .actions.order_bracket import derive_group_client_order_id

            action_params["client_order_id"] = derive_group_client_order_id(
                ctx.execution_id, ctx.step, action, action_params)
        result = run_action_typed(action, record, allow_live=live, host=host, **action_params)
    from .common.step_result import success_result

    return success_result(action, json.loads(json.dumps(output_json(result), default=str)))
