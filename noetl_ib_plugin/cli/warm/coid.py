"""The client_order_id of a `run place_order` invocation, fixed before the warm hand-over.

Once the warm server has accepted a step, a lost server is an unknown outcome (exit 6) and the
step is never re-run; the user must then look the order up by its cOID. So the client knows it
before it hands the step over: the one the user gave (a `client_order_id=` word or the
`--args-json` object), else a fresh one of the same form as `actions.order_ticket.
new_client_order_id` (`nib-` + 20 hex digits), added to argv as a `client_order_id=` word right
after the action name, where the CLI takes it as the order's key. Standard library only.
"""

from __future__ import annotations

import json
import uuid

__all__ = ["order_key"]

#: `noetl-ib run` options that take a value (the word after them is not the action).
_VALUE_OPTIONS = ("--credential", "--credentials-file", "--args-json")
_KEY = "client_order_id"


def _run_action(args: list[str]) -> int | None:
    """Index of the action word of `run ACTION ...` in argv, or None when this is not a run."""
    words = iter(enumerate(args))
    for _index, word in words:
        if word == "run":
            break
        if not word.startswith("-"):
            return None
    else:
        return None
    for index, word in words:
        if word == "--":
            return None  # the action could be anything after it: leave argv as typed
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return index
    return None


def _given(args: list[str], start: int) -> str | None:
    """The cOID the user gave: the last `client_order_id=` word, else the --args-json one."""
    found: str | None = None
    args_json: str | None = None
    words = iter(args[start:])
    for word in words:
        if word == "--args-json":
            args_json = next(words, None)
        elif word.startswith("--args-json="):
            args_json = word.split("=", 1)[1]
        elif word.startswith(f"{_KEY}="):
            found = word.split("=", 1)[1]
    if found is not None:
        return found
    if args_json is not None:
        try:
            parsed = json.loads(args_json)
        except ValueError:
            return ""  # the CLI refuses it before any order: nothing to name, nothing to add
        if isinstance(parsed, dict) and parsed.get(_KEY) is not None:
            return str(parsed[_KEY])
    return None


def order_key(args: list[str]) -> tuple[list[str], str | None]:
    """(argv to hand over, the cOID the step will use) for `run place_order`; else (args, None)."""
    action = _run_action(args)
    if action is None or args[action] != "place_order":
        return args, None
    given = _given(args, action + 1)
    if given is not None:
        return args, given or None
    coid = f"nib-{uuid.uuid4().hex[:20]}"
    return [*args[: action + 1], f"{_KEY}={coid}", *args[action + 1 :]], coid
