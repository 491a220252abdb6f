"""The IBKR trading-API client (imports only auth, credentials, errors and backoff below it)."""

from .brokerage_session import BrokerageSession
from .ib_client import READ_ONLY_POSTS, IBClient, is_no_bridge
from .keepalive import Keepalive
from .pacing import DEFAULT_LIMITS, Limit, Pacer, limits_for

__all__ = [
    "DEFAULT_LIMITS",
    "READ_ONLY_POSTS",
    "BrokerageSession",
    "IBClient",
    "Keepalive",
    "Limit",
    "Pacer",
    "is_no_bridge",
    "limits_for",
]
