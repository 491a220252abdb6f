"""`noetl-ib token`: token metadata, and the bearer export that lets plain `http` steps call IBKR."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

__all__ = ["cmd_token"]

log = logging.getLogger(__name__)


def cmd_token(ns: argparse.Namespace) -> dict[str, Any]:
    """Fetch (or reuse from the shared cache) the credential's token; print metadata, never the value."""
    from ..credentials import alias_env_var
    from ..errors import InputError
    from ..runner import default_host, load_credential
    from .alias import validate_alias, write_alias

    if ns.export_alias:
        validate_alias(ns.export_alias)
    host = default_host()
    record = load_credential(ns.credential, ns.credentials_file, host=host)
    provider = host.token_provider(record)
    if ns.export_alias and provider.scheme != "oauth2":
        raise InputError(
            f"credential {record.name!r} uses {record.type} ({provider.scheme}); only OAuth 2.0 "
            "bearers can be exported",
            field="export_alias",
            fix="OAuth 1.0a signs every request with the live session token (HMAC over method, "
            "URL, nonce and timestamp), so there is no static header a plain http step could "
            "send; use `noetl-ib run ACTION --credential NAME` steps for this credential, or an "
            "OAuth 2.0 one.",
        )
    if ns.refresh:
        provider.clear_cache()
    info = provider.token_info()
    out: dict[str, Any] = {"credential": record.name, "type": record.type, **info}
    if ns.export_alias:
        path = write_alias(ns.export_alias, provider.fetch_token())
        env_var = alias_env_var(ns.export_alias)
        shadowed = bool(os.environ.get(env_var))
        if shadowed:
            log.warning("%s is set and wins over %s; unset it or the export is not used", env_var, path)
        out["exported"] = {
            "alias": ns.export_alias,
            "path": str(path),
            "mode": "600",
            "expires_at": info.get("expires_at"),
            "shadowed_by_env": env_var if shadowed else None,
            "use": {"auth": {"type": "bearer", "credential": ns.export_alias}},
        }
    return out
