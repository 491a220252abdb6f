"""Single-flight of order placement per `client_order_id` within one process (one `IBClient`).

Threads sharing a client that place under the same cOID at the same time must not send it more
than once (IBKR accepts a repeated cOID when its uniqueness check is off): the first sends, the
others wait for its outcome. Same request: they get its result, or its error (an outcome the
first could not confirm stays unknown for them too). A different request under that cOID is an
IdempotencyKeyConflict, as it is when IBKR already holds the cOID. Waits end after `wait`
seconds with OrderUnconfirmed (the first may still be placing it).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import IdempotencyKeyConflict, OrderUnconfirmed

__all__ = ["ORDER_FLIGHT_WAIT", "OrderFlights"]

#: Longest wait (seconds) for another thread's placement of the same cOID: its reconcile and
#: rate-limit waits, each under their own deadlines, fit well inside.
ORDER_FLIGHT_WAIT = 180.0


class Placed(Protocol):
    """What a placement gives (an order action's output model): its IBKR order id, if any."""

    @property
    def order_id(self) -> str | None: ...


_P = TypeVar("_P", bound=Placed)


@dataclass
class _Flight(Generic[_P]):
    """One placement in progress: what it asked for and, once done, its outcome."""

    request: str
    done: threading.Event = field(default_factory=threading.Event)
    result: _P | None = None
    error: BaseException | None = None


class OrderFlights:
    """The placements in progress of one client, by cOID; safe to share between threads."""

    def __init__(self, wait: float = ORDER_FLIGHT_WAIT) -> None:
        self.wait = wait
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[Any]] = {}

    def run(self, coid: str, request: str,
            place: Callable[[], _P]) -> _P:
        """`place()` for the first caller of `coid`; the same outcome for concurrent callers
        with the same `request` (a canonical text of the order); IdempotencyKeyConflict for a
        different one; OrderUnconfirmed when the first has not finished within `wait` s."""
        flight: _Flight[_P] | None
        with self._lock:
            flight = self._flights.get(coid)
            leader = flight is None
            if flight is None:
                flight = self._flights[coid] = _Flight(request)
        if leader:
            return self._lead(coid, flight, place)
        if not flight.done.wait(self.wait):
            raise OrderUnconfirmed(
                f"another thread of this process is still placing order {coid} after "
                f"{self.wait:.0f} s", client_order_id=coid)
        placed = flight.result
        if flight.request != request:
            raise IdempotencyKeyConflict(
                f"client_order_id {coid} was just used by another thread of this process for a "
                "different order; nothing was placed for this request",
                client_order_id=coid,
                order_id=str(placed.order_id) if placed is not None else None,
            )
        if flight.error is not None:
            try:
                error = copy.copy(flight.error)
            except Exception:  # an error that cannot be copied is raised as it is
                error = flight.error
            raise error
        assert placed is not None
        return copy.deepcopy(placed)

    def _lead(self, coid: str, flight: _Flight[_P], place: Callable[[], _P]) -> _P:
        try:
            flight.result = place()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(coid, None)
            flight.done.set()
