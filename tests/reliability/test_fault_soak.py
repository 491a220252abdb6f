"""Fault soak (small): 200 mixed actions over 8 threads under injected 500s, 429s, resets, revocations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.soak import FAULTS, SoakConfig, run_soak, soak_simulator, violations

CONFIG = SoakConfig(actions=200, threads=8, seed=11, deadline=120.0)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One soak run shared by the module's assertions (its own token cache, pacing off)."""
    tmp = tmp_path_factory.mktemp("soak")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOETL_IB_CACHE_DIR", str(tmp / "token-cache"))
        mp.delenv("NOETL_IB_CREDENTIALS", raising=False)
        with soak_simulator(CONFIG.seed, tmp / "ibsim") as sim:
            yield run_soak(sim, CONFIG)


def test_every_invariant_holds(summary: dict[str, Any]) -> None:
    """No crash, no hang, no call over its bound, no duplicate, lost or foreign order."""
    assert violations(summary) == [], json.dumps(summary, indent=1)


def test_all_actions_ran_and_ended_typed(summary: dict[str, Any]) -> None:
    """Every planned action ran and each ended in a result or a typed IBPluginError."""
    assert summary["actions"] == CONFIG.actions and summary["hung_threads"] == 0
    assert summary["crash_count"] == 0, summary["crashes"]
    ran = {kind for kind, counts in summary["outcomes"].items() if sum(counts.values())}
    assert ran == {"get_positions", "snapshot", "account_summary", "get_open_orders",
                   "place_order", "cancel_order"}


def test_faults_were_really_injected(summary: dict[str, Any]) -> None:
    """The plan fired every fault kind, so the invariants were tested under stress."""
    injected = summary["sim"]["faults_injected"]
    assert set(injected) == set(FAULTS), injected
    assert summary["sim"]["faults_injected_total"] >= 40


def test_orders_exactly_once(summary: dict[str, Any]) -> None:
    """Each accepted place_order is in the book once under its cOID and id; failures never twice."""
    orders = summary["orders"]
    assert orders["duplicates"] == 0 and orders["lost"] == 0
    assert orders["placed_ok"] >= orders["place_calls"] * 0.8
    assert orders["book_size"] == orders["placed_ok"] + orders["failed_but_in_book"]
    assert summary["sim"]["orders_accepted"] == orders["book_size"]


def test_durations_within_bounds(summary: dict[str, Any]) -> None:
    """The slowest call of each kind stays inside the bound derived from the retry policy."""
    bounds = summary["bounds_seconds"]
    for kind, seconds in summary["max_duration_seconds"].items():
        limit = bounds["order"] if kind in ("place_order", "cancel_order") else bounds["read"]
        assert seconds <= limit, (kind, seconds)


def test_summary_is_json(summary: dict[str, Any]) -> None:
    """The summary the bench prints is plain JSON."""
    assert json.loads(json.dumps(summary)) == summary
