"""The IBKR trading-API client (imports only auth, credentials, errors and backoff below it)."""

from .bootstrap import BrokerageSession, SessionTakenOver
from .errors import OutcomeUnknown
from .keepalive import Keepalive
from .pacing import DEFAULT_LIMITS, Limit, Pacer, limits_for
from .session import READ_ONLY_POSTS, IBClient, is_no_bridge

__all__ = [
    "DEFAULT_LIMITS",
    "READ_ONLY_POSTS",
    "BrokerageSession",
    "IBClient",
    "Keepalive",
    "Limit",
    "OutcomeUnknown",
    "Pacer",
    "SessionTakenOver",
    "is_no_bridge",
    "limits_for",
]
