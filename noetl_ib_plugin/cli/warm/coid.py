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

#: `noetl-ib run`'s long options (cli/__init__.py `_build_parser`): argparse also takes any
#: unique prefix of one (`--cred`, `--args=...`), and `-c` for --credential.
_RUN_OPTIONS = ("--credential", "--credentials-file", "--args-json", "--allow-live", "--on-error",
                "--verbose", "--help")
_VALUE_OPTIONS = frozenset({"--credential", "--credentials-file", "--args-json", "--on-error"})
_KEY = "client_order_id"


def _option(word: str) -> tuple[str | None, str | None]:
    """(the run option `word` names as argparse reads it, its attached `=value` or None)."""
    if word == "-c":
        return "--credential", None
    if not word.startswith("--") or word == "--":
        return None, None
    name, eq, value = word.partition("=")
    if name in _RUN_OPTIONS:
        return name, value if eq else None
    found = [o for o in _RUN_OPTIONS if o.startswith(name)]
    return (found[0], value if eq else None) if len(found) == 1 else (None, None)


def _takes_next(word: str) -> bool:
    """`word` is a value option whose value is the next word."""
    name, attached = _option(word)
    return name in _VALUE_OPTIONS and attached is None


def _run_action(args: list[str]) -> int | None:
    """Index of the action word of `run ACTION ...` in argv (as argparse finds it), or None."""
    words = iter(enumerate(args))
    for _index, word in words:
        if word == "run":
            break
        if not word.startswith("-"):
            return None
    else:
        return None
    for index, word in words:
        if word == "--":  # everything after it is positional: the next word is the action
            following = next(words, None)
            return following[0] if following is not None else None
        if _takes_next(word):
            next(words, None)
        elif not word.startswith("-"):
            return index
    return None


def _given(args: list[str], start: int) -> str | None:
    """The cOID the user gave: the last `client_order_id=` word, else the --args-json one."""
    found: str | None = None
    args_json: str | None = None
    words = iter(args[start:])
    positional_only = False
    for word in words:
        name, attached = (None, None) if positional_only else _option(word)
        if word == "--":
            positional_only = True
        elif name == "--args-json":
            args_json = attached if attached is not None else next(words, None)
        elif name in _VALUE_OPTIONS and attached is None:
            next(words, None)  # another option's value, never a parameter
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
