"""What a route handler may use: the simulator's services, not the whole engine.

`Engine` builds one `Services` and passes it to every handler in `api.py`; handlers cannot reach
the request pipeline (pacing, faults' routing, the admin API), and `api.py` needs no import of
`engine.py` (which imports `api.py` for its routes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .auth import AuthService
from .broker import Broker
from .faults import Faults
from .market import Market
from .stats import Stats

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """The simulator's state a handler works on; `clock` returns epoch seconds."""

    clock: Callable[[], float]
    stats: Stats
    faults: Faults
    auth: AuthService
    market: Market
    broker: Broker
    #: Positions per page of `GET /portfolio/{acct}/positions/{page}`.
    positions_page_size: int
