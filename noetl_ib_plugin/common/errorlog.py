"""NOETL_IB_ERROR_LOG lines, written so that request-controlled text stays data (stdlib only).

A line is one JSON object, ASCII only, with `$` and backquote written as JSON escapes: the text
of an action name, an argument or an error message (all of which a step's caller chooses) can
never become a shell command when someone sources or `eval`s the file, nor a terminal escape
when someone cats it. Used by the CLI's error report and by the warm client's exit 6, which runs
before anything heavy is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["append_error_log", "log_line"]

#: Characters that keep a meaning for a shell inside double quotes; JSON escapes them as well.
_SHELL_ACTIVE = {ord("$"): "\\u0024", ord("`"): "\\u0060"}


def log_line(entry: Mapping[str, Any]) -> str:
    """`entry` as one line of inert JSON (no raw newline, non-ASCII, `$` or backquote), no newline."""
    return json.dumps(dict(entry), separators=(",", ":"), default=str,
                      ensure_ascii=True).translate(_SHELL_ACTIVE)


def append_error_log(path: str, entry: Mapping[str, Any]) -> None:
    """Append one `log_line` to `path` (created 0600); OSError when it cannot be written.

    O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of hanging the step.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0), 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as fh:
        fh.write(log_line(entry) + "\n")
