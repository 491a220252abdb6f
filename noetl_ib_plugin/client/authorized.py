"""The auth layer: a 401/410 invalidates the token that was refused and the call goes once more.

As google-auth's `AuthorizedSession` and httpx's `_send_handling_auth` do: the transport
below authorises each attempt with the provider's current token; this layer only decides
that a refused token is spent. The token is invalidated only if it is still the current one,
so threads that raced on the same refusal cost one token request, not one each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests

from ..auth.base import TokenProvider
from ..auth.http import problem_detail
from ..errors import AuthError
from .trading_transport import TradingTransport

__all__ = ["AUTH_FIX", "AuthorizedSender", "RefreshBudget"]

log = logging.getLogger(__name__)

AUTH_FIX = (
    "the token was refreshed once and IBKR still refused it: check that the credential's "
    "consumer/client is registered and not revoked, the system clock is correct, and that no "
    "other process logged the same user out; run `noetl-ib token --refresh --credential NAME` "
    "(NAME: the record's name) to retry."
)

#: IBKR's answers to a token it no longer accepts (expired, revoked, logged out).
REFUSED_TOKEN = (401, 410)


class RefreshBudget:
    """One refresh per API call, shared by every resend of it (a "no bridge" reopen too)."""

    __slots__ = ("spent",)

    def __init__(self) -> None:
        self.spent = False


class AuthorizedSender:
    """Sends through a `TradingTransport`, refreshing the token once when IBKR refuses it."""

    def __init__(self, transport: TradingTransport, provider: TokenProvider) -> None:
        self.transport = transport
        self.provider = provider

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
        *,
        before: Callable[[], None] | None = None,
        budget: RefreshBudget | None = None,
    ) -> tuple[requests.Response, str]:
        """The answer and the token value that authorised it; AuthError when the refreshed
        token is refused too. `before()` runs before each send (the brokerage bootstrap for
        the token about to be used); `budget` carries the one refresh across resends."""
        budget = budget if budget is not None else RefreshBudget()
        while True:
            if before is not None:
                before()
            resp, token_used = self.transport.send(method, path, params, json, idempotent)
            if resp.status_code not in REFUSED_TOKEN:
                return resp, token_used
            if budget.spent:
                raise AuthError(
                    f"{method} {path}: HTTP {resp.status_code} from IBKR ({problem_detail(resp)})",
                    status=resp.status_code,
                    fix=AUTH_FIX,
                )
            budget.spent = True
            log.info("%s %s: HTTP %s, refreshing the token once", method, path, resp.status_code)
            self.provider.invalidate(token_used)
