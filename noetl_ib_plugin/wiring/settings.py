"""`Settings`: every environment variable the core needs, read once at a front door.

The front doors (CLI, `entry.main`, `TradingClient`, `run_action`) call
`Settings.from_environ(os.environ)`; the `Host` they build hands the values down as arguments,
so no layer below reads the environment. A frozen dataclass, stdlib only: every playbook step
is a fresh process and this module is on its start-up path (pydantic-settings would add its
own import and python-dotenv to each step for the same few lookups).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..common.backoff import ENV_BASE_DELAY, ENV_MAX_DELAY, ENV_MAX_RETRIES, ENV_MAX_TOTAL
from ..common.flags import parse_flag

__all__ = ["RETRY_VARIABLES", "Settings", "cache_dir_from", "credentials_dir_from"]

#: The retry knobs (`common.backoff.RetryPolicy.from_environ` reads and checks them).
RETRY_VARIABLES = (ENV_MAX_RETRIES, ENV_BASE_DELAY, ENV_MAX_DELAY, ENV_MAX_TOTAL)


def cache_dir_from(environ: Mapping[str, str]) -> Path:
    """`NOETL_IB_CACHE_DIR`, else `$XDG_CACHE_HOME/noetl-ib`, else `~/.cache/noetl-ib`."""
    explicit = environ.get("NOETL_IB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "noetl-ib"


def credentials_dir_from(environ: Mapping[str, str]) -> Path:
    """NoETL's alias directory: `$NOETL_CREDENTIALS_DIR`, else (XDG config or
    ~/.config)/noetl/credentials."""
    explicit = environ.get("NOETL_CREDENTIALS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "noetl" / "credentials"


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """What the environment says about token caching, sharing, pacing, credential stores and
    HTTP timing.

    `token_cache` is ``NOETL_IB_TOKEN_CACHE`` as written (lower-cased; "" unset), and
    `retry` (the ``NOETL_IB_RETRY_*`` pairs that are set) and `http_deadline`
    (``NOETL_IB_HTTP_DEADLINE``, "" unset) are raw text too: `Host` checks them when it builds
    what uses them, so a bad value fails the step that needs it, as before.
    `server_url` is ``NOETL_SERVER_URL``; `keychain_catalog_id` ``NOETL_IB_KEYCHAIN_CATALOG_ID``
    (overrides the step's catalog id); `pacing` is False for ``NOETL_IB_PACING=off`` (or
    0/no/false/disabled). `credentials_file` is ``NOETL_IB_CREDENTIALS``, `credentials_dir`
    NoETL's alias directory, `http_server_hosts` the lower-cased names in
    ``NOETL_IB_HTTP_SERVER_HOSTS``. `environ` is the mapping the settings were read from: the
    credential stores look up ``NOETL_CREDENTIAL_<ALIAS>`` and the ``OAUTH_*`` record in it
    when a name is resolved (it takes no part in comparing settings).
    """

    cache_dir: Path
    token_cache: str = ""
    server_url: str | None = None
    keychain_catalog_id: str | None = None
    pacing: bool = True
    credentials_file: str | None = None
    credentials_dir: Path | None = None
    http_server_hosts: frozenset[str] = frozenset()
    retry: tuple[tuple[str, str], ...] = ()
    http_deadline: str = ""
    environ: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read the variables from `environ` (a front door passes `os.environ`)."""
        env = environ
        return cls(
            cache_dir=cache_dir_from(env),
            token_cache=env.get("NOETL_IB_TOKEN_CACHE", "").strip().lower(),
            server_url=_text(env, "NOETL_SERVER_URL"),
            keychain_catalog_id=_text(env, "NOETL_IB_KEYCHAIN_CATALOG_ID"),
            pacing=parse_flag(env.get("NOETL_IB_PACING")) is not False,
            credentials_file=env.get("NOETL_IB_CREDENTIALS") or None,
            credentials_dir=credentials_dir_from(env),
            http_server_hosts=frozenset(
                h.strip().lower() for h in env.get("NOETL_IB_HTTP_SERVER_HOSTS", "").split(",")
                if h.strip()),
            retry=tuple((name, env[name]) for name in RETRY_VARIABLES if env.get(name)),
            http_deadline=env.get("NOETL_IB_HTTP_DEADLINE", "").strip(),
            environ=env,
        )
