"""The one keepalive of a brokerage session: a slot on `BrokerageSessionManager` that a
keepalive claims, so a stream does not start a second one for the same session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["KeepaliveSlot", "Running"]


class Running(Protocol):
    """A keepalive as the slot sees it."""

    @property
    def running(self) -> bool:
        """Whether it is tickling now."""


R = TypeVar("R", bound=Running)


class KeepaliveSlot:
    """Holds the running keepalive of one session; its own short lock, never the bootstrap's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holder: Running | None = None

    def _taken(self, by: Running | None = None) -> bool:
        """Whether another running keepalive holds the slot (caller holds the lock)."""
        holder = self.holder
        return holder is not None and holder is not by and holder.running

    def claim(self, keepalive: Running) -> bool:
        """Record `keepalive` as the session's; False (nothing recorded) when another running
        one already holds the slot."""
        with self._lock:
            if self._taken(keepalive):
                return False
            self.holder = keepalive
            return True

    def start_unless_held(self, start: Callable[[], R]) -> R | None:
        """`start()` a keepalive and record it, unless a running one holds the slot (None)."""
        with self._lock:
            if self._taken():
                return None
            started = start()
            self.holder = started
            return started
