"""The simulator's OAuth 1.0a nonce table: one-time nonces, forgotten after the window, cheap."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from noetl_ib_plugin.simulator.auth import OAUTH1_WINDOW, AuthService


class _Clock:
    """A manual clock: tests move time, not the machine."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _service() -> tuple[AuthService, _Clock]:
    clock = _Clock()
    return AuthService(clock), clock


def _check(service: AuthService, clock: _Clock, nonce: str, consumer: str = "CK") -> None:
    params = {"oauth_timestamp": str(clock.now), "oauth_nonce": nonce}
    consumer_obj: Any = SimpleNamespace(consumer_key=consumer)
    service._check_fresh(consumer_obj, params)


def test_replayed_nonce_refused_until_the_window_passes() -> None:
    """A nonce is refused again within 2 windows, per consumer, and accepted once they pass."""
    service, clock = _service()
    _check(service, clock, "n1")
    with pytest.raises(Exception, match="already been used"):
        _check(service, clock, "n1")
    _check(service, clock, "n1", consumer="OTHER")  # nonces are per consumer
    clock.now += 2 * OAUTH1_WINDOW - 1
    with pytest.raises(Exception, match="already been used"):
        _check(service, clock, "n1")
    clock.now += 1
    _check(service, clock, "n1")


def test_expired_nonces_are_forgotten_without_rebuilding_the_table() -> None:
    """Beyond 8,192 live nonces the table is updated in place and expired entries leave it."""
    service, clock = _service()
    table = service._nonces
    for i in range(10_000):
        clock.now += 0.001
        _check(service, clock, f"a{i}")
    assert service._nonces is table and len(table) == 10_000
    clock.now += 2 * OAUTH1_WINDOW
    _check(service, clock, "fresh")
    assert service._nonces is table and set(table) == {("CK", "fresh")}
    assert len(service._nonce_expiry) == 1
