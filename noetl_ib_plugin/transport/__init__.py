"""HTTP transport limits every call shares: a total deadline, a body-size cap, no redirects.

One module a job: `deadline` (the watchdog and `DeadlineAdapter`, the byte cap, redirects
refused), `dns` (a TCP connection whose name lookup is inside its deadline; the WebSocket
uses it too), `settled` (`SettledSession`, which reads proxies/CA/netrc once per origin, and the
session factories), `urls` (origins for messages and logs), `decode` (JSON bodies).
"""

from __future__ import annotations

from .deadline import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, DeadlineAdapter, DeadlineExceeded
from .decode import json_body
from .settled import USER_AGENT, SettledSession, ensure_limits, limited_session
from .urls import origin

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
    "DeadlineAdapter",
    "DeadlineExceeded",
    "SettledSession",
    "ensure_limits",
    "json_body",
    "limited_session",
    "origin",
]
