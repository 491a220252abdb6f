"""The CLI's output contract: one JSON object on stdout, errors as JSON on stderr, exit codes by category."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from ..errors import UsageError
from ..redaction import redact

__all__ = [
    "EXIT_AUTH",
    "EXIT_BROKER",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_TRANSIENT",
    "EXIT_UNEXPECTED",
    "CliUsageError",
    "FailedWithResult",
    "RedactingFilter",
    "configure_logging",
    "emit",
    "error_exit_code",
    "parse_assignments",
    "parse_value",
    "redact",
    "report_error",
    "stdout_to_stderr",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_AUTH = 3
EXIT_BROKER = 4
EXIT_TRANSIENT = 5
#: An order's outcome is unknown: look it up by its client_order_id before anything else.
EXIT_OUTCOME_UNKNOWN = 6

#: `IBPluginError.category` -> exit code; scripts branch on these instead of parsing messages.
CATEGORY_EXIT = {
    "input": EXIT_INPUT,
    "auth": EXIT_AUTH,
    "broker": EXIT_BROKER,
    "transient": EXIT_TRANSIENT,
    "unknown": EXIT_OUTCOME_UNKNOWN,
}

log = logging.getLogger("noetl_ib_plugin.cli")


#: The CLI's name for the one tree's `UsageError` (bad command line: exit 2).
CliUsageError = UsageError


class FailedWithResult(Exception):
    """A command failed but still has a JSON result for stdout (e.g. a per-record check report)."""

    def __init__(self, result: Any, cause: BaseException) -> None:
        self.result = result
        self.cause = cause
        super().__init__(str(cause))


# -- secrets never reach a log line ----------------------------------------------------------

class RedactingFilter(logging.Filter):
    """Handler filter: every record, ours or a library's, is redacted before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's malformed format args must not kill the command
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(verbose: int) -> int:
    """Logs go to stderr only; `-v` or NOETL_IB_LOG_LEVEL=DEBUG raises the level; returns the level."""
    level = logging.WARNING
    env = os.environ.get("NOETL_IB_LOG_LEVEL", "").strip().upper()
    if env:
        named = logging.getLevelName(env)
        if isinstance(named, int):
            level = named
    if verbose:
        level = min(level, logging.DEBUG)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_noetl_ib", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._noetl_ib = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("noetl-ib %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return level


# -- stdout belongs to the result ------------------------------------------------------------


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While a command runs, anything printed (Python or C level) goes to stderr, not stdout."""
    real = sys.stdout
    saved_fd: int | None = None
    try:
        if real is not None and real.fileno() == 1:
            real.flush()
            saved_fd = os.dup(1)
            os.dup2(2, 1)
    except (AttributeError, OSError, ValueError):  # captured streams (tests) have no fd
        saved_fd = None
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        sys.stdout = real
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def emit(obj: Any) -> None:
    """Print exactly one JSON object (one line) on stdout."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def error_exit_code(exc: BaseException) -> int:
    """Exit code for an error: by category for the plugin's errors, 1 for anything unexpected."""
    category = getattr(exc, "category", None)
    if isinstance(category, str) and hasattr(exc, "to_dict"):
        return CATEGORY_EXIT.get(category, EXIT_UNEXPECTED)
    return EXIT_UNEXPECTED


def _error_payload(exc: BaseException, verbose: int) -> dict[str, Any]:
    to_dict = getattr(exc, "to_dict", None)
    if callable(to_dict) and isinstance(getattr(exc, "category", None), str):
        body = dict(to_dict())
        body["category"] = exc.category  # type: ignore[attr-defined]
    else:
        body = {
            "type": "UnexpectedError",
            "message": f"unexpected {type(exc).__name__}; rerun with -v for the traceback"
            if not verbose
            else f"unexpected {type(exc).__name__}: {redact(str(exc))}",
            "category": "unexpected",
        }
    body["message"] = redact(str(body.get("message", "")))
    return body


def report_error(exc: BaseException, *, verbose: int, command: str | None = None) -> int:
    """Write `{"error": {...}}` on stderr (and to NOETL_IB_ERROR_LOG if set); return the exit code."""
    code = error_exit_code(exc)
    body = _error_payload(exc, verbose)
    if verbose and code == EXIT_UNEXPECTED:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    line = json.dumps({"error": body}, separators=(",", ":"), default=str)
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    _append_error_log(body, code, command)
    return code


def _append_error_log(body: Mapping[str, Any], code: int, command: str | None) -> None:
    """NoETL's local runtime discards a failing step's stderr; this file keeps the reason."""
    path = os.environ.get("NOETL_IB_ERROR_LOG")
    if not path:
        return
    entry = {"ts": round(time.time(), 3), "command": command, "exit_code": code, "error": dict(body)}
    try:
        # O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of hanging the step.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0),
                     0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, separators=(",", ":"), default=str) + "\n")
    except OSError as exc:
        log.warning("cannot append to NOETL_IB_ERROR_LOG %s: %s", path, exc.strerror)


# -- key=value arguments ---------------------------------------------------------------------

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


#: Bounds on JSON from the command line: far beyond any action's arguments, far below a crash.
MAX_JSON_CHARS = 1_000_000
MAX_JSON_DEPTH = 32


def _depth_ok(value: Any, limit: int) -> bool:
    """True when `value` nests at most `limit` lists/objects deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth >= limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def load_json_bounded(text: str, field: str) -> Any:
    """`json.loads` with a size and nesting bound; too big, too deep or malformed is a usage error."""
    if len(text) > MAX_JSON_CHARS:
        raise CliUsageError(
            f"{field} is {len(text)} characters long; at most {MAX_JSON_CHARS}", field=field
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliUsageError(f"{field} is not valid JSON ({exc.msg})", field=field) from None
    except RecursionError:
        value = None
        ok = False
    else:
        ok = _depth_ok(value, MAX_JSON_DEPTH)
    if not ok:
        raise CliUsageError(
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
        except CliUsageError as exc:
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


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """`key=value` words to a dict; a word without `=` or with a bad key is a usage error."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliUsageError(
                f"argument {item!r} is not key=value (e.g. symbol=AAPL quantity=1)", field=item
            )
        if not _KEY.match(key):
            raise CliUsageError(f"argument name {key!r} is not an identifier", field=key)
        out[key] = parse_value(value, key)
    return out


def die(message: str, *, field: str | None = None) -> NoReturn:
    """Raise a usage error from anywhere in a command."""
    raise CliUsageError(message, field=field)
