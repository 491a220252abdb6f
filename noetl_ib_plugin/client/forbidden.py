"""HTTP 403 from IBKR: an authorization problem, not a broker answer (exit 3, category auth).

IBKR's response-code table says a 403 means the request is not authorised and to query
`/iserver/auth/status`; gateways also answer 403 with an HTML "Access denied" page (ibeam #161;
ibkr-web-api.md s.13). The page is never echoed: only IBKR's JSON `error` text is kept.
"""

from __future__ import annotations

import requests

from ..errors import AuthError
from ..transport import json_body

__all__ = ["FORBIDDEN_FIX", "forbidden_error"]

FORBIDDEN_FIX = (
    "check the brokerage session with `noetl-ib run auth_status --credential NAME` (IBKR's "
    "POST /iserver/auth/status: authenticated, not competing), then the account's permissions "
    "for this request in IBKR's portal (trading permissions for the product, market data "
    "subscriptions, the OAuth consumer's access to the account).")


def _json_error(resp: requests.Response) -> str | None:
    """IBKR's own `error`/`message` text from a JSON body; None for HTML or anything else."""
    try:
        body = json_body(resp)
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip() and "<" not in value:
                return " ".join(value.split())[:200]
    return None


def forbidden_error(method: str, path: str, resp: requests.Response) -> AuthError:
    """The AuthError for a 403: IBKR's JSON reason when it gave one, never an HTML page."""
    reason = _json_error(resp) or "access denied"
    return AuthError(f"{method} {path}: HTTP 403 from IBKR ({reason}): the credential is not "
                     "authorised for this request", status=403, fix=FORBIDDEN_FIX)
