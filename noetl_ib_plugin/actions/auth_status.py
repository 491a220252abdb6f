"""The auth_status action: a cheap health check a playbook can route on.

It never obtains or refreshes a token: without a valid cached token it answers at once with
`token_valid: false`, and a 401 from `POST /iserver/auth/status` is reported, not retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..client import IBClient
from ..client.brokerage_session import BROKERAGE_STATE
from ..client.trading_transport import decode_answer
from .outputs.auth_status import AuthStatusOutput
from .outputs.base import load_output

__all__ = ["AuthStatusInput", "auth_status"]

#: Wall clock for the session age (the brokerage state records `time.time()`); tests replace it.
wall_clock: Callable[[], float] = time.time


class AuthStatusInput(BaseModel):
    """No arguments: the status of the credential's token and brokerage session."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def _status(fields: dict[str, Any]) -> AuthStatusOutput:
    """The model, never an exception: a health check reports what IBKR said."""
    return load_output(AuthStatusOutput, fields, "auth_status")


def _not_authenticated(message: str) -> AuthStatusOutput:
    return _status({"authenticated": False, "connected": False, "competing": False,
                    "token_valid": False, "token_expires_in": None, "session_age": None,
                    "message": message})


def auth_status(client: IBClient, inp: AuthStatusInput) -> AuthStatusOutput:
    """`POST /iserver/auth/status` with the cached token; no token fetch, no 401 retry."""
    provider = client.provider
    if not provider.is_token_valid():
        return _not_authenticated("no valid token cached; the next action will obtain one")
    token = provider.current_token()  # valid and cached, so this reads memory or the cache
    # The transport layer, not request(): request() would refresh the token on a 401.
    resp, _ = client.transport.send("POST", "/iserver/auth/status", None, None, True)
    if resp.status_code in (401, 410):
        resp.close()
        return _not_authenticated(f"IBKR refused the cached token (HTTP {resp.status_code})")
    body = decode_answer("POST", "/iserver/auth/status", resp)
    status = body if isinstance(body, dict) else {}
    state = provider.load_state(BROKERAGE_STATE) or {}
    opened = state.get("opened_at")
    age = round(wall_clock() - float(opened), 3) if isinstance(opened, (int, float)) and opened else None
    return _status({
        "authenticated": status.get("authenticated") is True,
        "connected": status.get("connected") is True,
        "competing": status.get("competing") is True,
        "token_valid": True,
        "token_expires_in": round(token.expires_at - provider.now(), 3),
        "session_age": age,
        "message": status.get("message") or status.get("fail") or None,
    })
