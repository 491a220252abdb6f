"""Fault soak (small): 200 mixed actions over 8 threads under every fault kind, in both cOID modes.

With the simulator's cOID uniqueness off (`enforce_coid_unique=False`) nothing but the client's
own reconciliation keeps each logical request to one order, so a client that resends blindly
fails here (the simulator counts orders per logical request from the order's own parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.soak import FAULTS, SoakConfig, run_soak, soak_simulator, violations

#: 200 actions make ~70 orders, too few for 1 % kinds: garbage 4 % each, order kinds 8 %;
#: ~25 group POSTs: a refused leg 25 %.
BOOSTED = {**FAULTS, **{k: 0.04 for k in FAULTS if k.startswith("garbage_")},
           "inactive": 0.08, "session_change": 0.08, "modify_lost": 0.2, "modify_fill_race": 0.1,
           "leg_refused": 0.25}
CONFIG = SoakConfig(actions=200, threads=8, seed=11, deadline=120.0, faults=BOOSTED,
                    at_least_once=True)


@pytest.fixture(scope="module", params=[True, False], ids=["coid-unique", "coid-not-unique"])
def summary(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One soak run per cOID mode shared by the module's assertions (own cache, pacing off)."""
    tmp = tmp_path_factory.mktemp("soak")
    cfg = SoakConfig(**{**CONFIG.__dict__, "enforce_coid_unique": request.param})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOETL_IB_CACHE_DIR", str(tmp / "token-cache"))
        mp.delenv("NOETL_IB_CREDENTIALS", raising=False)
        with soak_simulator(cfg.seed, tmp / "ibsim") as sim_reset:
            yield run_soak(sim_reset, cfg)


def test_every_invariant_holds(summary: dict[str, Any]) -> None:
    """No crash, no hang, no call over its bound, no duplicate, lost or foreign order."""
    assert violations(summary) == [], json.dumps(summary, indent=1)


def test_all_actions_ran_and_ended_typed(summary: dict[str, Any]) -> None:
    """Every planned action ran and each ended in a result or a typed IBPluginError."""
    assert summary["actions"] == CONFIG.actions and summary["hung_threads"] == 0
    assert summary["crash_count"] == 0, summary["crashes"]
    ran = {kind for kind, counts in summary["outcomes"].items() if sum(counts.values())}
    assert ran == {"get_positions", "snapshot", "account_summary", "get_open_orders",
                   "place_order", "cancel_order", "modify_order", "place_bracket", "place_oca"}


def test_faults_were_really_injected(summary: dict[str, Any]) -> None:
    """The plan fired every fault kind, so the invariants were tested under stress."""
    injected = summary["sim"]["faults_injected"]
    # Which request draws which kind depends on thread timing; the plan's at_least_once forces
    # each kind onto a request it applies to until it has fired, so every kind must be here.
    assert set(FAULTS) <= set(injected), sorted(set(FAULTS) - set(injected))
    assert summary["sim"]["faults_injected_total"] >= 40


def test_orders_exactly_once(summary: dict[str, Any]) -> None:
    """Each accepted place_order is in the book once under its cOID and id; failures never twice."""
    orders = summary["orders"]
    assert orders["duplicates"] == 0 and orders["lost"] == 0
    assert orders["logical_duplicates"] == 0 and orders["logical_requests"] == orders["book_size"]
    assert orders["reported_refused_but_held"] == 0 and orders["result_fields_differ"] == 0
    assert orders["placed_ok"] >= orders["place_calls"] * 0.7
    assert orders["single_order_book_size"] == orders["placed_ok"] + orders["failed_but_in_book"]
    assert summary["sim"]["orders_accepted"] == orders["book_size"]


def test_durations_within_bounds(summary: dict[str, Any]) -> None:
    """The slowest call of each kind stays inside the bound derived from the retry policy."""
    bounds = summary["bounds_seconds"]
    for kind, seconds in summary["max_duration_seconds"].items():
        limit = bounds["order"] if kind.endswith("_order") or kind.startswith("place_") \
            else bounds["read"]
        assert seconds <= limit, (kind, seconds)


def test_summary_is_json(summary: dict[str, Any]) -> None:
    """The summary the bench prints is plain JSON."""
    assert json.loads(json.dumps(summary)) == summary


def test_outcome_unknown_results_name_their_coid(summary: dict[str, Any]) -> None:
    """Every outcome-unknown result names its cOID and is the only failure the broker may hold."""
    orders = summary["orders"]
    assert orders["outcome_unknown_without_coid"] == []
    assert orders["failed_but_in_book"] <= (orders["outcome_unknown"]
                                            + orders["inactive_reported_and_held_inactive"])


def test_modifications_exactly_once_and_reported_as_the_book_holds_them(
        summary: dict[str, Any]) -> None:
    """No modification applied twice; every modify outcome agrees with the simulator's book."""
    modifies = summary["modifies"]
    assert modifies["applied_twice"] == 0, modifies["applied_twice_examples"]
    assert modifies["reported_differently"] == 0, modifies["reported_differently_examples"]
    # Enough applied to mean something: with modify_fill_race at 10 % and OCA siblings and
    # bracket legs filling or cancelling first, OrderNotWorking is often over half of the calls.
    assert modifies["outcomes"].get("ok", 0) >= max(3, modifies["modify_calls"] * 0.2), modifies
    assert modifies["reconciled"] >= 1  # modify_lost at 20 % made some answers lost


def test_brackets_and_oca_groups_match_the_book(summary: dict[str, Any]) -> None:
    """Every group leg reported as the book holds it, no orphaned child, no key-less unknown."""
    groups = summary["groups"]
    assert groups["group_calls"] >= 15 and set(groups["by_kind"]) == {"place_bracket",
                                                                      "place_oca"}
    assert groups["legs_reported_differently"] == 0, groups["legs_reported_differently_examples"]
    assert groups["reported_refused_but_held"] == 0
    assert groups["orphaned_children"] == 0, groups["orphaned_children_examples"]
    assert groups["unknown_without_key"] == []
    assert groups["legs_by_outcome"].get("placed", 0) >= groups["group_calls"]
