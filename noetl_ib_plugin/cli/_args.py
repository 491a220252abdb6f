"""`noetl-ib run` arguments: `key=value` words and `--args-json`, parsed within bounds.

Values are JSON when they parse, else raw strings; too big, too deep or malformed JSON is a
usage error (exit 2), never a crash.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from ..errors import UsageError

__all__ = [
    "MAX_JSON_CHARS",
    "MAX_JSON_DEPTH",
    "check_argument_name",
    "die",
    "load_json_bounded",
    "parse_assignments",
    "parse_value",
]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


#: Bounds on JSON from the command line: far beyond any action's arguments, far below a crash.
MAX_JSON_CHARS = 1_000_000
MAX_JSON_DEPTH = 32


def load_json_bounded(text: str, field: str) -> Any:
    """`json.loads` with a size and nesting bound; too big, too deep or malformed is a usage error."""
    if len(text) > MAX_JSON_CHARS:
        raise UsageError(
            f"{field} is {len(text)} characters long; at most {MAX_JSON_CHARS}", field=field
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{field} is not valid JSON ({exc.msg})", field=field) from None
    except RecursionError:
        value = None
        ok = False
    else:
        from ..common.jsonbounds import nests_within  # only a JSON argument pays for it

        ok = nests_within(value, MAX_JSON_DEPTH)
    if not ok:
        raise UsageError(
            f"{field} nests lists/objects more than {MAX_JSON_DEPTH} levels deep", field=field
        )
    return value


def parse_value(text: str, field: str = "value") -> Any:
    """JSON when it parses (numbers, booleans, null, lists, objects, "quoted"), else the raw string.

    Deeply nested or oversized JSON is a usage error rather than a string: it is never a symbol.
    """
    if text[:1] in ("[", "{"):
        try:
            return load_json_bounded(text, field)
        except UsageError as exc:
            if "not valid JSON" in exc.message:
                return text
            raise
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text  # "NaN"/"Infinity" are symbols, not prices
    return value


def check_argument_name(key: str, where: str) -> None:
    """An action argument's name must be an identifier; the error quotes `where` it came from
    (the word, or --args-json) so an empty or blank name is still named."""
    if not key.strip():
        raise UsageError(
            f"argument {where!r} has an empty name: write name=value with the argument's name "
            "before '=', e.g. quantity=1 (`noetl-ib actions` lists each action's arguments)",
            field=where,
        )
    if not _KEY.match(key):
        raise UsageError(
            f"argument name {key!r} in {where!r} is not an identifier: use the action's "
            "argument name, letters, digits and '_' (e.g. limit_price=99.5)",
            field=key,
        )


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """`key=value` words to a dict; a word without `=`, with a bad or empty key, or a key given
    twice is a usage error."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(
                f"argument {item!r} is not key=value (e.g. symbol=AAPL quantity=1)", field=item
            )
        check_argument_name(key, item)
        if key in out:
            raise UsageError(
                f"argument {key!r} is given twice; keep one, e.g. a single {key}=VALUE word",
                field=key,
            )
        out[key] = parse_value(value, key)
    return out


def die(message: str, *, field: str | None = None) -> NoReturn:
    """Raise a usage error from anywhere in a command."""
    raise UsageError(message, field=field)
