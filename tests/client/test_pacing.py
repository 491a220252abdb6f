"""Client-side pacing: the windows IBKR publishes, enforced with a fake clock."""

from __future__ import annotations

import os

import pytest

from noetl_ib_plugin.client import Limit, Pacer, limits_for
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings

from .fakes import FakeClock


def test_limits_for_maps_endpoints() -> None:
    """Snapshot, tickle, live orders and /portfolio/accounts count against their own windows."""
    assert limits_for("GET", "/iserver/marketdata/snapshot") == ("global", "snapshot")
    assert limits_for("POST", "/tickle") == ("global", "tickle")
    assert limits_for("GET", "/iserver/account/orders") == ("global", "live_orders")
    assert limits_for("POST", "/iserver/account/DU1/orders") == ("global",)
    assert limits_for("GET", "/portfolio/accounts") == ("global", "portfolio_accounts")
    assert limits_for("GET", "/sso/validate") == ("global", "sso_validate")


def test_snapshot_window_allows_ten_then_waits_one_window() -> None:
    """Ten snapshots go at once; the eleventh waits for the (slightly widened) 1 s window."""
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep, margin=0.01, slack=0.005)
    for _ in range(10):
        assert pacer.acquire("GET", "/iserver/marketdata/snapshot") == 0.0
    waited = pacer.acquire("GET", "/iserver/marketdata/snapshot")
    assert waited == pytest.approx(1.015)


def test_sustained_rate_is_at_least_95_percent_of_the_limit() -> None:
    """Over 200 snapshots the pacer sustains >= 95 % of 10/s (and never more than 10 per 1 s)."""
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    times = []
    start = clock.now
    for _ in range(200):
        pacer.acquire("GET", "/iserver/marketdata/snapshot")
        times.append(clock.now)
    elapsed = times[-1] - start
    assert 199 / elapsed >= 9.5
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 1.0


def test_live_orders_one_per_five_seconds() -> None:
    """GET /iserver/account/orders is paced 1 per 5 s; other endpoints are not held back by it."""
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep, margin=0.0, slack=0.0)
    pacer.acquire("GET", "/iserver/account/orders")
    assert pacer.acquire("GET", "/iserver/accounts") == 0.0
    assert pacer.acquire("GET", "/iserver/account/orders") == pytest.approx(5.0)


def test_global_limit_applies_to_every_request() -> None:
    """The 51st request inside one second waits, whatever the endpoint."""
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep, margin=0.0, slack=0.0)
    for _ in range(50):
        assert pacer.acquire("GET", "/iserver/accounts") == 0.0
    assert pacer.acquire("POST", "/iserver/reply/x") == pytest.approx(1.0)


def test_overrides_and_disabled() -> None:
    """Limits can be overridden (short windows for tests) and pacing turned off entirely."""
    clock = FakeClock()
    pacer = Pacer({"live_orders": Limit(1, 0.2)}, clock=clock, sleep=clock.sleep, margin=0.0,
                  slack=0.0)
    pacer.acquire("GET", "/iserver/account/orders")
    assert pacer.acquire("GET", "/iserver/account/orders") == pytest.approx(0.2)
    off = Pacer.disabled()
    assert all(off.acquire("GET", "/iserver/marketdata/snapshot") == 0.0 for _ in range(100))


def test_shared_pacer_is_per_credential() -> None:
    """Every client of one credential on a host shares one pacer; others get their own."""
    host = Host(Settings.from_environ(os.environ))
    assert host.pacer("cred-a", None) is host.pacer("cred-a", None)
    assert host.pacer("cred-a", None) is not host.pacer("cred-b", None)


def test_env_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_IB_PACING=off disables pacing for clients built without an explicit pacer."""
    monkeypatch.setenv("NOETL_IB_PACING", "off")
    assert not Settings.from_environ(os.environ).pacing
    monkeypatch.setenv("NOETL_IB_PACING", "on")
    assert Settings.from_environ(os.environ).pacing
