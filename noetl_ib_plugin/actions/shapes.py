"""Read answers checked against the shape their endpoint documents: never read junk as empty.

A maintenance page, `{"message": ...}` or `"maintenance"` from an endpoint that documents a list
is not "no positions": it is a TransientError naming the endpoint (shared/ibkr-web-api.md §4-§7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client import IBClient
from ..errors import BrokerError, TransientError

__all__ = ["expect_dict", "expect_list", "get_json"]

RETRY_FIX = "IBKR answered something other than this endpoint's data (maintenance or an error "
RETRY_FIX += "page); retry later."


def _excerpt(body: Any) -> str:
    """A short, single-line rendering of what came back."""
    return " ".join(str(body).split())[:160]


def get_json(client: IBClient, path: str, *, params: Mapping[str, Any] | None = None,
             what: str | None = None) -> Any:
    """`GET path`; a 2xx body that is not JSON (an HTML page) becomes a TransientError naming it."""
    try:
        return client.get(path, params=params)
    except TransientError:
        raise
    except BrokerError as exc:
        if exc.status is None or not 200 <= exc.status < 300:
            raise
        raise TransientError(
            f"GET {what or path}: IBKR answered HTTP {exc.status} with a body that is not JSON",
            status=exc.status,
            fix=RETRY_FIX,
        ) from None


def _refusal(body: Any, endpoint: str) -> None:
    """IBKR's own `{"error": ...}` answer is a BrokerError carrying its text."""
    if isinstance(body, dict) and body.get("error"):
        raise BrokerError(f"GET {endpoint}: IBKR answered an error: {_excerpt(body['error'])}",
                          status=200)


def expect_list(body: Any, endpoint: str, *, key: str | None = None) -> list[dict[str, Any]]:
    """The endpoint's documented list of objects (or `body[key]` when the list is wrapped).

    Raises BrokerError for IBKR's `{"error": ...}`, TransientError for any other shape.
    """
    _refusal(body, endpoint)
    items = body.get(key) if key is not None and isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        shape = f"an object with a '{key}' list" if key else "a list of objects"
        raise TransientError(
            f"GET {endpoint}: expected {shape}, IBKR answered {_excerpt(body)!r}",
            status=200,
            fix=RETRY_FIX,
        )
    return items


def expect_dict(body: Any, endpoint: str) -> dict[str, Any]:
    """The endpoint's documented object; BrokerError for `{"error"}`, TransientError otherwise."""
    _refusal(body, endpoint)
    if not isinstance(body, dict):
        raise TransientError(
            f"GET {endpoint}: expected an object, IBKR answered {_excerpt(body)!r}",
            status=200,
            fix=RETRY_FIX,
        )
    return body
