"""Opt-in keepalive for long-lived processes (a bot, a long playbook step).

IBKR drops a brokerage session after about 6 minutes without requests; its clients `POST
/tickle` about once a minute. Short CLI steps do not need this (off by default): start it only
where a process idles between calls for minutes.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import IBPluginError

if TYPE_CHECKING:
    from .ib_client import IBClient

__all__ = ["TICKLE_INTERVAL", "Keepalive", "Tickles", "claim_session", "session_keepalive"]

log = logging.getLogger(__name__)

#: IBKR's cadence: one tickle a minute keeps a ~6-minute idle timeout far away.
TICKLE_INTERVAL = 60.0


class Tickles(Protocol):
    """What a keepalive drives: an `IBClient`, or a `TradingClient` (which tickles its host's
    client for the credential)."""

    def tickle(self) -> Any:
        """`POST /tickle` once."""


class Keepalive:
    """Tickle `client` every `interval` seconds on a daemon thread until `stop()` (or the
    `with` block ends). Failures are logged at WARNING and never raised into the caller;
    `tickles` and `failures` count what happened."""

    def __init__(self, client: Tickles, interval: float = TICKLE_INTERVAL,
                 *, stop_timeout: float = 10.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive (seconds)")
        self.client = client
        self.interval = float(interval)
        self.stop_timeout = stop_timeout
        self.tickles = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Keepalive:
        """Start the timer thread (idempotent); it runs in a copy of the caller's context, so a
        keepalive started inside a NoETL step tickles that step's client."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=contextvars.copy_context().run,
                                            args=(self._run,), name="noetl-ib-keepalive",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the timer and wait (bounded) for an in-flight tickle to finish."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.stop_timeout)

    @property
    def running(self) -> bool:
        """Whether the timer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        """Wait one interval, tickle, repeat; an Event wait so stop() is prompt."""
        while not self._stop.wait(self.interval):
            try:
                self.client.tickle()
                self.tickles += 1
            except IBPluginError as exc:
                self.failures += 1
                log.warning("keepalive tickle failed: %s", exc.message)

    def __enter__(self) -> Keepalive:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def claim_session(client: IBClient, keepalive: Keepalive) -> bool:
    """Record `keepalive` as the one tickling `client`'s brokerage session; False (nothing
    recorded) when another running keepalive already does."""
    return client.brokerage_manager.keepalive.claim(keepalive)


def session_keepalive(client: IBClient, interval: float, *,
                      stop_timeout: float = 5.0) -> Keepalive | None:
    """Start a keepalive for `client`'s brokerage session (`POST /tickle` every `interval` s)
    unless one already runs for it: None then (the running one keeps the session alive; the
    caller owns nothing to stop). Used by a stream, which IBKR asks to tickle over REST too."""
    return client.brokerage_manager.keepalive.start_unless_held(
        lambda: Keepalive(client, interval, stop_timeout=stop_timeout).start())
