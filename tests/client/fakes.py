"""Test doubles for the client layer: an in-memory provider and a fake clock."""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import responses

from noetl_ib_plugin import testing
from noetl_ib_plugin.auth import MemoryTokenCache, Token, TokenProvider
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.common.backoff import RetryPolicy

BASE = "https://api.test/v1/api"


class FakeProvider(TokenProvider):
    """Bearer tokens tok1, tok2, ... from memory; counts fetches so tests can see refreshes."""

    scheme = "fake"

    def __init__(self, base: str = BASE) -> None:
        super().__init__(cache=MemoryTokenCache())
        self.base = base
        self.fetches = 0

    @property
    def trading_base_url(self) -> str:
        return self.base

    def _cache_identity(self) -> tuple[str, ...]:
        return ("fake", self.base)

    def _fetch_new(self) -> Token:
        self.fetches += 1
        now = self.now()
        return Token(value=f"tok{self.fetches}", expires_at=now + 3600, obtained_at=now,
                     scheme=self.scheme)

    def authorize(self, method: str, url: str, headers: MutableMapping[str, str]) -> str:
        token = self.current_token().value
        headers["Authorization"] = f"Bearer {token}"
        return token


class FakeClock:
    """Monotonic time that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


def make_client(
    provider: TokenProvider | None = None, clock: FakeClock | None = None, **kw: Any
) -> IBClient:
    """A client with no pacing, a fake clock and a deterministic retry policy."""
    clock = clock or FakeClock()
    policy = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0, max_total=30.0,
                         rand=lambda: 1.0, sleep=clock.sleep)
    kw.setdefault("pacer", Pacer.disabled())
    return IBClient(provider or FakeProvider(), retry_policy=policy, clock=clock,
                    sleep=clock.sleep, **kw)


def add_bootstrap(
    rsps: Any, account: str = "DU1110001", is_paper: bool = True
) -> None:
    """Register ssodh/init, /iserver/accounts and /portfolio/accounts answers."""
    rsps.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init",
             json={"authenticated": True, "connected": True, "competing": False})
    rsps.add(responses.GET, f"{BASE}/iserver/accounts",
             json={"accounts": [account], "selectedAccount": account, "isPaper": is_paper})
    rsps.add(responses.GET, f"{BASE}/portfolio/accounts", json=[{"id": account}])


@contextmanager
def order_desk() -> Iterator[responses.RequestsMock]:
    """A fresh default host and a mock IBKR with the bootstrap, the AAPL search and its info answered."""
    testing.reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bootstrap(mock)
        mock.add(responses.GET, f"{BASE}/iserver/secdef/search",
                 json=[{"conid": "265598", "symbol": "AAPL", "description": "NASDAQ",
                        "sections": [{"secType": "STK"}]}])
        mock.add(responses.GET, f"{BASE}/iserver/contract/265598/info",
                 json={"conid": 265598, "symbol": "AAPL", "instrument_type": "STK",
                       "exchange": "NASDAQ", "currency": "USD"})
        # The read-back after placement: IBKR's order status may lag a fresh order (a unit
        # test that cares registers the status it wants before this catch-all).
        mock.add(responses.GET, re.compile(rf"{re.escape(BASE)}/iserver/account/order/status/\d+"),
                 status=400, json={"error": "OrderID doesn't exist", "statusCode": 400})
        yield mock
    testing.reset()


def calls_to(rsps: Any, suffix: str, method: str | None = None) -> int:
    """How many recorded calls hit a URL path ending in `suffix`."""
    return sum(
        1
        for c in rsps.calls
        if c.request.url is not None
        and c.request.url.split("?")[0].endswith(suffix)
        and (method is None or c.request.method == method)
    )
