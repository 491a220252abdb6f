"""`Settings`: every environment variable the core's wiring needs, read once at a front door.

The front doors (CLI, `entry.main`, `TradingClient`, `run_action`) call
`Settings.from_environ()`; the `Host` they build hands the values down as arguments, so no layer
below reads the environment. A frozen dataclass over six variables, stdlib only: every playbook
step is a fresh process and this module is on its start-up path (pydantic-settings would add its
own import and python-dotenv to each step for the same six lookups).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common.flags import parse_flag

__all__ = ["Settings", "cache_dir_from"]


def cache_dir_from(environ: Mapping[str, str]) -> Path:
    """`NOETL_IB_CACHE_DIR`, else `$XDG_CACHE_HOME/noetl-ib`, else `~/.cache/noetl-ib`."""
    explicit = environ.get("NOETL_IB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "noetl-ib"


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """What the environment says about token caching, sharing and pacing.

    `token_cache` is ``NOETL_IB_TOKEN_CACHE`` as written (lower-cased; "" unset): `Host` checks
    it when it builds a cache, so a bad value fails the step that needs a token, as before.
    `server_url` is ``NOETL_SERVER_URL``; `keychain_catalog_id` ``NOETL_IB_KEYCHAIN_CATALOG_ID``
    (overrides the step's catalog id); `pacing` is False for ``NOETL_IB_PACING=off`` (or
    0/no/false/disabled).
    """

    cache_dir: Path
    token_cache: str = ""
    server_url: str | None = None
    keychain_catalog_id: str | None = None
    pacing: bool = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the variables from `environ` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        return cls(
            cache_dir=cache_dir_from(env),
            token_cache=env.get("NOETL_IB_TOKEN_CACHE", "").strip().lower(),
            server_url=_text(env, "NOETL_SERVER_URL"),
            keychain_catalog_id=_text(env, "NOETL_IB_KEYCHAIN_CATALOG_ID"),
            pacing=parse_flag(env.get("NOETL_IB_PACING")) is not False,
        )
