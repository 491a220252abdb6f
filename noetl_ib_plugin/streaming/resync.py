"""The REST read of live orders after a reconnect, off the reader thread.

IBKR paces `GET /iserver/account/orders` at 1 per 5 s and answers a fresh brokerage session's
first call with an empty pre-flight (ibkr-web-api.md s.7), so the read can take seconds; run
on the reader thread it held market data back that long after every reconnect. Here it runs in
its own thread while the reader goes on; order updates the socket brings meanwhile wait in
`deferred` and are merged after the read's orders, in the order they came (what the reader did
when it waited for the read itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Resync"]


class Resync:
    """One read of live orders, started on construction."""

    def __init__(self, read: Callable[[], list[dict[str, Any]]], reconnects: int) -> None:
        self.reconnects = reconnects
        self.orders: list[dict[str, Any]] = []
        self.error: Exception | None = None
        #: `sor` arguments the socket brought during the read, with their receive times.
        self.deferred: list[tuple[Any, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(read,), daemon=True,
                                        name="noetl-ib-stream-resync")
        self._thread.start()

    def _read(self, read: Callable[[], list[dict[str, Any]]]) -> None:
        """The read; its failure is kept for the reader thread to announce."""
        try:
            self.orders = read()
        except Exception as exc:  # announced by the stream, which goes on
            self.error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        """Whether the read has finished (with orders or an error)."""
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait for the read at most `timeout` s; whether it finished."""
        return self._done.wait(timeout)
