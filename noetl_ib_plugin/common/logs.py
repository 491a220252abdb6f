"""Where the plugin's logs go: stderr only, every record redacted (CLI and `entry.main` alike)."""

from __future__ import annotations

import logging
import sys

from .redaction import RedactingFilter

__all__ = ["configure_logging"]


def configure_logging(verbose: int, level_name: str = "") -> int:
    """Logs go to stderr only; `-v` or `level_name` (a front door's NOETL_IB_LOG_LEVEL, e.g.
    DEBUG) raises the level; returns the level."""
    level = logging.WARNING
    env = level_name.strip().upper()
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
