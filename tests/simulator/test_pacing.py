"""Pacing (§9): 429 with Retry-After over the limits, counted; an exactly-paced client passes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from noetl_ib_plugin.simulator import SimKeys, Simulator
from noetl_ib_plugin.simulator.pacing import Pacer

from .clients import OAuth2Client, Trader, load_private
from .conftest import records


class ManualClock:
    """The simulator's clock, moved only by the test: pacing verdicts cannot depend on load."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock for the paced simulator."""
    return ManualClock()


@pytest.fixture
def paced(sim_keys: SimKeys, clock: ManualClock) -> Iterator[tuple[Simulator, Trader]]:
    """A simulator with short pacing windows, a manual clock and a ready trader."""
    overrides = {"global": (8, 0.5), "snapshot": (2, 0.3), "tickle": (1, 0.2),
                 "live_orders": (1, 0.3)}
    with Simulator(keys=sim_keys, pacing_overrides=overrides, penalty_seconds=0,
                   clock=clock) as s:
        data = records(s)["sim_oauth2"]
        client = OAuth2Client(s.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        trader = Trader(s.url, "DU1234567", bearer=client.bearer())
        clock.advance(2.0)  # past every pacing window and the bridge warm-up
        yield s, trader


def test_endpoint_limit_gives_429(paced: tuple[Simulator, Trader]) -> None:
    """A second tickle inside its window is a 429 with Retry-After, counted in stats."""
    sim_shared, t = paced
    assert t.post("/tickle").status_code == 200
    resp = t.post("/tickle")
    assert resp.status_code == 429 and "error" in resp.json()
    assert int(resp.headers["Retry-After"]) >= 1
    assert sim_shared.stats()["rate_limited_responses"] == 1


def test_global_limit(paced: tuple[Simulator, Trader]) -> None:
    """More than the global limit in the window is refused."""
    _, t = paced
    codes = [t.post("/iserver/auth/status").status_code for _ in range(10)]
    assert codes.count(200) == 8 and codes.count(429) == 2


def test_exact_rate_never_limited(paced: tuple[Simulator, Trader], clock: ManualClock) -> None:
    """A client sending exactly one tickle per window never sees a 429."""
    sim_shared, t = paced
    for n in range(5):
        if n:
            clock.advance(0.2)
        assert t.post("/tickle").status_code == 200
    assert sim_shared.stats()["rate_limited_responses"] == 0


def test_pacing_off_by_default_in_tests(sim_shared: Simulator, trader: Trader) -> None:
    """pacing=False disables every limit."""
    assert all(trader.post("/tickle").status_code == 200 for _ in range(5))


def test_pacer_unit_leniency() -> None:
    """The window shrinks by the leniency margin and refusals are not recorded."""
    now = [0.0]
    pacer = Pacer(lambda: now[0], {"global": (1, 1.0)}, leniency=0.05)
    assert pacer.check("u", ("global",)) is None
    now[0] = 0.9
    wait = pacer.check("u", ("global",))
    assert wait is not None and wait == pytest.approx(0.05)
    now[0] = 0.96
    assert pacer.check("u", ("global",)) is None
    assert pacer.check("v", ("global",)) is None


def test_penalty_box_after_repeat_offences() -> None:
    """Three refusals in the strike window box a principal until the box ends; others are unaffected."""
    now = [0.0]
    pacer = Pacer(lambda: now[0], {"tickle": (1, 1.0)}, leniency=0.0, penalty_seconds=30.0,
                  penalty_strikes=3, penalty_window=60.0)
    assert pacer.check("u", ("tickle",)) is None
    assert pacer.check("u", ("tickle",)) is not None
    assert pacer.check("u", ("tickle",)) is not None and not pacer.boxed("u")
    wait = pacer.check("u", ("tickle",))
    assert wait == pytest.approx(30.0) and pacer.boxed("u") and pacer.boxed_total == 1
    now[0] = 10.0
    assert pacer.check("u", ("global",)) == pytest.approx(20.0)
    assert pacer.check("v", ("tickle",)) is None
    now[0] = 30.0
    assert pacer.check("u", ("tickle",)) is None and not pacer.boxed("u")


def test_strikes_expire_outside_their_window() -> None:
    """Refusals further apart than penalty_window never add up to a box."""
    now = [0.0]
    pacer = Pacer(lambda: now[0], {"tickle": (1, 1.0)}, leniency=0.0, penalty_seconds=30.0,
                  penalty_strikes=2, penalty_window=5.0)
    for step in range(4):
        now[0] = step * 10.0
        assert pacer.check("u", ("tickle",)) is None
        assert pacer.check("u", ("tickle",)) is not None
    assert pacer.boxed_total == 0


def test_penalty_box_over_http_counted_and_retry_after_optional(sim_keys: SimKeys) -> None:
    """Over HTTP the box answers 429 to every call, is counted, and Retry-After can be left out."""
    overrides = {"tickle": (1, 5.0)}
    with Simulator(keys=sim_keys, pacing_overrides=overrides, penalty_seconds=60,
                   penalty_strikes=2, retry_after=False, bridge_warmup=0) as s:
        data = records(s)["sim_oauth2"]
        client = OAuth2Client(s.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        t = Trader(s.url, "DU1234567", bearer=client.bearer())
        codes = [t.post("/tickle").status_code for _ in range(3)]
        assert codes == [200, 429, 429]
        boxed = t.post("/iserver/auth/status")
        assert boxed.status_code == 429 and "Retry-After" not in boxed.headers
        assert s.stats()["penalty_box_entries"] == 1
