"""The CLI's output contract: one JSON object on stdout, errors as JSON on stderr, exit codes by category.

Argument parsing lives in `_args.py`, redaction in `..redaction`, log set-up in `..logs`; their
names are re-exported here for callers that import them from this module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..common.errorlog import append_error_log
from ..common.logs import configure_logging
from ..common.redaction import RedactingFilter, redact
from ._args import die, load_json_bounded, parse_assignments, parse_value

__all__ = [
    "EXIT_AUTH",
    "EXIT_BROKER",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_TRANSIENT",
    "EXIT_UNEXPECTED",
    "FailedWithResult",
    "RedactingFilter",
    "configure_logging",
    "die",
    "emit",
    "error_exit_code",
    "is_terminal",
    "load_json_bounded",
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


class FailedWithResult(Exception):
    """A command failed but still has a JSON result for stdout (e.g. a per-record check report)."""

    def __init__(self, result: Any, cause: BaseException) -> None:
        self.result = result
        self.cause = cause
        super().__init__(str(cause))


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


def is_terminal(stream: Any) -> bool:
    """True when `stream` is a terminal (a person reads it), False for pipes, files and captures."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def emit(obj: Any, *, pretty: bool = False) -> None:
    """Print exactly one JSON object on stdout: one line, or indented for a terminal (`pretty`)."""
    text = (json.dumps(obj, indent=2, default=str, ensure_ascii=False) if pretty
            else json.dumps(obj, separators=(",", ":"), default=str))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def error_exit_code(exc: BaseException) -> int:
    """Exit code for an error: by category for the plugin's errors, 1 for anything unexpected."""
    category = getattr(exc, "category", None)
    if isinstance(category, str) and hasattr(exc, "to_dict"):
        return CATEGORY_EXIT.get(category, EXIT_UNEXPECTED)
    return EXIT_UNEXPECTED


#: How a fix written below the CLI names the credential it cannot know.
CREDENTIAL_PLACEHOLDER = "--credential NAME"


def _name_credential(text: str, credential: str | None) -> str:
    """A fix's `--credential NAME` as the command line that failed named it, so it runs as copied."""
    if not credential:
        return text
    return text.replace(CREDENTIAL_PLACEHOLDER, f"--credential {shlex.quote(credential)}")


def _error_payload(exc: BaseException, verbose: int,
                   credential: str | None = None) -> dict[str, Any]:
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
    body["message"] = redact(_name_credential(str(body.get("message", "")), credential))
    if isinstance(body.get("fix"), str):
        body["fix"] = redact(_name_credential(body["fix"], credential))
    return body


def _readable(exc: BaseException, body: Mapping[str, Any], code: int) -> str:
    """The error for a person: what went wrong, the details it names, then the fix on its own line."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str) or not isinstance(getattr(exc, "category", None), str):
        message = str(body.get("message", ""))
    field = body.get("field")
    head = f"{field}: {message}" if field and f"{field}:" not in message else message
    lines = [f"error ({body.get('type')}, exit {code}): {redact(head)}"]
    for name, value in body.items():
        if name not in ("type", "message", "category", "field", "fix") and value is not None:
            lines.append(f"  {name}: {redact(str(value))}")
    fix = body.get("fix") or getattr(exc, "fix", None)
    if isinstance(fix, str) and fix:
        lines.append(f"fix: {redact(fix)}")
    return "\n".join(lines) + "\n"


def report_error(
    exc: BaseException, *, verbose: int, command: str | None = None,
    credential: str | None = None, readable: bool = False,
) -> int:
    """Write `{"error": {...}}` on stderr, or for a terminal (`readable`) the message, details and
    fix on lines of their own (and to NOETL_IB_ERROR_LOG if set); return the exit code.

    `credential`: the `--credential` of the command line, put into fixes that say `NAME`."""
    code = error_exit_code(exc)
    body = _error_payload(exc, verbose, credential)
    if verbose and code == EXIT_UNEXPECTED:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    if readable:
        sys.stderr.write(_readable(exc, body, code))
    else:
        sys.stderr.write(json.dumps({"error": body}, separators=(",", ":"), default=str) + "\n")
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
        append_error_log(path, entry)
    except OSError as exc:
        log.warning("cannot append to NOETL_IB_ERROR_LOG %s: %s", path, exc.strerror)
