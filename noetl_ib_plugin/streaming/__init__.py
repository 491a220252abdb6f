"""Long-lived connections: IBKR's WebSocket (`wss://.../v1/api/ws`, market data, live orders,
trades, P&L; /work/shared/ibkr-web-api.md s.12).

A core layer above `client/`: `StreamClient` takes an `IBClient` (its token provider, brokerage
session, `/tickle` and pacer) and is built by a front door, which also hands in the REST read of
live orders used to resync after a reconnect. It never reads the environment and never imports
actions, wiring or a front door (tests/test_layering.py). See docs/architecture.md.
"""

from .account_events import (
    AccountEvent,
    AccountSummaryEvent,
    BulletinEvent,
    LedgerEvent,
    NotificationEvent,
    UnsubscribedEvent,
)
from .buffer import EventBuffer, StreamClosed, StreamOverflow
from .client import DEFAULT_QUOTE_FIELDS, StreamClient, StreamSettings, websocket_url
from .events import (
    ErrorEvent,
    OrderEvent,
    PnlEvent,
    QuoteEvent,
    ResyncedEvent,
    StatusEvent,
    StreamEvent,
    SystemEvent,
    TradeEvent,
)

__all__ = [
    "DEFAULT_QUOTE_FIELDS",
    "AccountEvent",
    "AccountSummaryEvent",
    "BulletinEvent",
    "ErrorEvent",
    "EventBuffer",
    "LedgerEvent",
    "NotificationEvent",
    "OrderEvent",
    "PnlEvent",
    "QuoteEvent",
    "ResyncedEvent",
    "StatusEvent",
    "StreamClient",
    "StreamClosed",
    "StreamEvent",
    "StreamOverflow",
    "StreamSettings",
    "SystemEvent",
    "TradeEvent",
    "UnsubscribedEvent",
    "websocket_url",
]
