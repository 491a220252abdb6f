"""Fault-soak engine shared by tests/reliability/test_fault_soak.py and bench/soak.py.

N mixed actions (reads, resting LMT orders with explicit cOIDs, brackets and OCA groups with
explicit keys, cancels of our own orders) run over T threads through `run_action` against an
in-process simulator that injects 500s, 429s, connection resets, token revocations,
accept-then-garbage answers (HTML, empty, wrong shape, 408/501/524), a lagging live-orders list,
brokerage-session changes, Inactive orders and refused bracket/OCA legs.
Afterwards the simulator's order book is compared with what the calls returned: no cOID twice,
no logical request placed twice (counted by the simulator from the order's own parameters, a
tag the client does not control), no accepted order lost, nothing reported refused that the
broker holds, no result whose fields differ from the broker's order, nothing we did not send;
for brackets and OCA groups no leg twice, every leg's reported outcome what the book holds (placed
= held working or done, inactive = held Inactive, refused = absent), no child working while its
parent is cancelled or Inactive, no OCA member working once another filled.
`SoakConfig.enforce_coid_unique=False` runs the simulator without IBKR's cOID uniqueness, so
only the client's own reconciliation keeps orders single.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noetl_ib_plugin import testing
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.errors import IBPluginError
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator

__all__ = [
    "FAULTS",
    "ORDER_BOUND",
    "READ_BOUND",
    "SoakConfig",
    "run_soak",
    "soak_simulator",
    "violations",
]

FAULTS: dict[str, Any] = {
    "http_500": 0.10,
    "http_429": 0.05,
    "reset_before": 0.03,
    "reset_after": 0.02,
    "revoke_token": 0.01,
    # Accept-then-garbage on order POSTs (placement and replies): processed, answer unreadable.
    "garbage_html": 0.01,
    "garbage_empty": 0.01,
    "garbage_shape": 0.01,
    "garbage_408": 0.01,
    "garbage_501": 0.01,
    "garbage_524": 0.01,
    # Applied when an order is accepted.
    "inactive": 0.01,
    "session_change": 0.01,
    # Modifications: applied then the connection reset; the order fills just before.
    "modify_lost": 0.05,
    "modify_fill_race": 0.02,
    # A bracket's / OCA group's last leg refused while the others are accepted.
    "leg_refused": 0.05,
}
#: Fault kinds that are a probability (the rest of the plan are settings).
FAULT_KINDS = tuple(FAULTS)
#: Live orders list a fresh order only after this long; below the client's settle wait (2 s).
LIVE_ORDERS_LAG_S = 0.5

_POLICY = RetryPolicy.from_environ(os.environ)
#: One read is at most a few requests, each retried within `max_total`; 10 s covers a token
#: refresh and the brokerage bootstrap on top.
READ_BOUND = _POLICY.max_total + 10.0
#: An order may need a contract lookup, the POST, a reconciliation and one resend + reconciliation.
ORDER_BOUND = 2 * READ_BOUND

#: Pinned prices; resting orders sit 2% away (inside IBKR's 3% constraint, so no o163 question).
PRICES: dict[str, tuple[int, float]] = {
    "AAPL": (265598, 100.0),
    "MSFT": (272093, 400.0),
    "IBM": (8314, 200.0),
    "SPY": (756733, 500.0),
    "TSLA": (76792991, 200.0),
}
READS = ("get_positions", "snapshot", "account_summary", "get_open_orders")
#: Relative weights of the mix (cancel falls back to a place when the thread has nothing to cancel).
MIX: dict[str, float] = {
    "get_positions": 0.12,
    "snapshot": 0.14,
    "account_summary": 0.12,
    "get_open_orders": 0.12,
    "place_order": 0.35,
    "cancel_order": 0.15,
    # A modify falls back to a place too; its target quantity is unique per op (index + 1).
    "modify_order": 0.12,
    "place_bracket": 0.08,
    "place_oca": 0.05,
}
GROUPS = ("place_bracket", "place_oca")
#: An order of the book no longer working (the oracle's own table, not the client's).
GONE = {"Cancelled", "Inactive"}
WORKING = {"PreSubmitted", "Submitted", "PendingSubmit"}


@dataclass(frozen=True)
class SoakConfig:
    """Size and seed of one soak run."""

    actions: int = 200
    threads: int = 8
    seed: int = 7
    creds: tuple[str, ...] = ("sim_oauth2", "sim_oauth1a")
    #: IBKR refuses a reused cOID; False leaves exactly-once to the client's reconciliation.
    enforce_coid_unique: bool = True
    #: Fault probabilities by kind (None: FAULTS).
    faults: dict[str, float] | None = None
    #: Give up waiting for the workers after this long (a hang is reported, not waited out).
    deadline: float = 600.0
    #: Every fault kind of the plan fires at least once (the simulator's `at_least_once`), so a
    #: short run does not depend on which request the draws and the thread timing give a kind.
    at_least_once: bool = False


@dataclass
class Call:
    """One action call and how it ended."""

    kind: str
    cred: str
    outcome: str = "ok"
    duration: float = 0.0
    coid: str | None = None
    order_id: str | None = None
    result: dict[str, Any] | None = None
    message: str = ""
    typed: bool = True
    #: modify_order: the target quantity (unique per op, so the book shows each application).
    target: float | None = None
    #: A group's legs as the error reported them (OrderGroupIncomplete / OrderGroupUnconfirmed).
    legs: list[dict[str, Any]] | None = None


@dataclass
class _Worker:
    """Per-thread state: its credential, its ops and the order ids it may cancel."""

    cred: str
    ops: list[tuple[int, str]]
    calls: list[Call] = field(default_factory=list)
    mine: list[str] = field(default_factory=list)


def _plan(cfg: SoakConfig) -> list[tuple[int, str]]:
    """Deterministic op kinds, numbered."""
    rng = random.Random(cfg.seed)
    kinds, weights = list(MIX), list(MIX.values())
    return [(i, rng.choices(kinds, weights)[0]) for i in range(cfg.actions)]


def _args(kind: str, index: int, cfg: SoakConfig, rng: random.Random,
          worker: _Worker) -> tuple[str, dict[str, Any]]:
    """Arguments for one op (a cancel with nothing to cancel becomes a place)."""
    if kind == "cancel_order":
        if worker.mine:
            return kind, {"order_id": worker.mine.pop(rng.randrange(len(worker.mine)))}
        kind = "place_order"
    if kind == "modify_order":
        if worker.mine:
            return kind, {"order_id": rng.choice(worker.mine), "quantity": index + 1}
        kind = "place_order"
    if kind == "place_order":
        symbol = rng.choice(sorted(PRICES))
        price = PRICES[symbol][1]
        side = rng.choice(["BUY", "SELL"])
        limit = round(price * (0.98 if side == "BUY" else 1.02), 2)
        # The quantity is unique per op, so the simulator's logical key (account, contract,
        # side, quantity, type, prices, tif) tells logical requests apart without our cOID.
        return kind, {
            "symbol": symbol, "side": side, "quantity": index + 1, "order_type": "LMT",
            "limit_price": limit, "tif": "DAY",
            "client_order_id": f"soak-{cfg.seed}-{index:05d}",
        }
    if kind in GROUPS:
        return kind, _group_args(kind, index, cfg, rng)
    if kind == "snapshot":
        return kind, {"symbols": rng.sample(sorted(PRICES), 2), "poll_interval": 0.05,
                      "max_wait": 2.0}
    return kind, {}


def _group_args(kind: str, index: int, cfg: SoakConfig, rng: random.Random) -> dict[str, Any]:
    """A bracket (resting LMT or MKT entry, children 1 % / 4 % away) or a two-contract OCA
    group of resting limits; quantities unique per op, like place_order's."""
    symbol = rng.choice(sorted(PRICES))
    price = PRICES[symbol][1]
    key = f"{'soakb' if kind == 'place_bracket' else 'soako'}-{cfg.seed}-{index:05d}"
    if kind == "place_bracket":
        side = rng.choice(["BUY", "SELL"])
        up = 1.0 if side == "BUY" else -1.0
        entry: dict[str, Any] = {"order_type": "MKT"} if rng.random() < 0.3 else \
            {"order_type": "LMT", "limit_price": round(price * (1 - 0.02 * up), 2)}
        return {"symbol": symbol, "side": side, "quantity": index + 1, **entry, "tif": "DAY",
                "take_profit_price": round(price * (1 + 0.01 * up), 2),
                "stop_loss_price": round(price * (1 - 0.04 * up), 2), "client_order_id": key}
    other = rng.choice(sorted(set(PRICES) - {symbol}))
    return {"client_order_id": key, "orders": [
        {"symbol": s, "side": "BUY", "quantity": index + 1, "order_type": "LMT",
         "limit_price": round(PRICES[s][1] * 0.98, 2), "tif": "DAY"} for s in (symbol, other)]}


def group_coids(kind: str, key: str) -> list[str]:
    """The leg cOIDs a group key stands for (the oracle's own rule: `-tp`/`-sl`, `-1`/`-2`)."""
    return [key, f"{key}-tp", f"{key}-sl"] if kind == "place_bracket" else [f"{key}-1", f"{key}-2"]


def _work(worker: _Worker, cfg: SoakConfig, credentials_file: Path, index: int) -> None:
    """Run one thread's ops in order, recording every outcome."""
    rng = random.Random(cfg.seed * 1000 + index)
    for number, planned in worker.ops:
        kind, args = _args(planned, number, cfg, rng, worker)
        call = Call(kind, worker.cred, coid=args.get("client_order_id"),
                    order_id=args.get("order_id"),
                    target=args.get("quantity") if kind == "modify_order" else None)
        started = time.monotonic()
        try:
            call.result = run_action(kind, worker.cred, credentials_file=credentials_file, **args)
        except IBPluginError as exc:
            call.outcome = type(exc).__name__
            call.message = str(exc)[:300]
            call.legs = getattr(exc, "legs", None)
        except Exception as exc:  # a crash: not one of the plugin's typed errors
            call.outcome = type(exc).__name__
            call.message = repr(exc)[:300]
            call.typed = False
        call.duration = time.monotonic() - started
        if kind == "place_order" and call.result is not None:
            call.order_id = str(call.result.get("order_id") or "")
            if call.order_id:
                worker.mine.append(call.order_id)
        legs = (call.result or {}).get("legs") or call.legs or []
        if kind in GROUPS and legs and legs[0].get("order_id"):
            worker.mine.append(str(legs[0]["order_id"]))  # cancelling a parent takes its children
        worker.calls.append(call)


@contextmanager
def soak_simulator(seed: int, state_dir: Path | None = None) -> Iterator[Simulator]:
    """An in-process simulator, pacing off on both sides, prices pinned, no faults yet."""
    old = os.environ.get("NOETL_IB_PACING")
    os.environ["NOETL_IB_PACING"] = "off"
    testing.reset()
    try:
        with running_simulator(pacing=False, seed=seed, state_dir=state_dir) as sim:
            yield sim
    finally:
        testing.reset()
        if old is None:
            os.environ.pop("NOETL_IB_PACING", None)
        else:
            os.environ["NOETL_IB_PACING"] = old


def run_soak(sim: Simulator, cfg: SoakConfig) -> dict[str, Any]:
    """Run the mix under the fault plan and return the summary (see `violations` for the verdict)."""
    sim.reset()
    testing.reset()
    for conid, price in PRICES.values():
        sim.set_price(conid, price)
    sim.set_order_options(enforce_coid_unique=cfg.enforce_coid_unique)
    sim.set_faults({"seed": cfg.seed, "live_orders_lag_s": LIVE_ORDERS_LAG_S,
                    "inactive_reason": "soak: not allowed", "at_least_once": cfg.at_least_once,
                    **(cfg.faults or FAULTS)})
    plan = _plan(cfg)
    workers = [_Worker(cfg.creds[i % len(cfg.creds)], plan[i :: cfg.threads])
               for i in range(cfg.threads)]
    started = time.monotonic()
    pool = ThreadPoolExecutor(cfg.threads, thread_name_prefix="soak")
    futures = [pool.submit(_work, w, cfg, sim.credentials_file, i) for i, w in enumerate(workers)]
    done, pending = wait(futures, timeout=cfg.deadline)
    pool.shutdown(wait=not pending, cancel_futures=True)
    wall = time.monotonic() - started
    sim.set_faults({})
    calls = [c for w in workers for c in w.calls]
    summary = _summarise(calls, sim, cfg, wall)
    summary["expected_actions"] = cfg.actions
    summary["hung_threads"] = len(pending)
    summary["worker_errors"] = [repr(f.exception())[:300] for f in done if f.exception()]
    return summary


def _summarise(calls: list[Call], sim: Simulator, cfg: SoakConfig, wall: float) -> dict[str, Any]:
    """Counts by outcome, the order-book comparison and the simulator's counters."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    max_duration: dict[str, float] = defaultdict(float)
    for c in calls:
        outcomes[c.kind][c.outcome] += 1
        if c.outcome != "ok":
            errors[c.outcome] += 1
        max_duration[c.kind] = max(max_duration[c.kind], round(c.duration, 3))
    examples: dict[str, str] = {}
    for c in calls:
        if c.outcome != "ok":
            examples.setdefault(f"{c.kind}/{c.outcome}", c.message[:200])
    crashes = [f"{c.kind}: {c.message}" for c in calls if not c.typed]
    over_bound = [
        f"{c.kind} took {c.duration:.1f}s ({c.outcome})" for c in calls
        if c.duration > (READ_BOUND if c.kind in READS else ORDER_BOUND)
    ]
    # Unconfirmed/failed reads are fine; what matters is what happened to orders.
    book = sim.orders()
    by_coid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in book:
        by_coid[str(order["cOID"])].append(order)
    by_id = {str(o["order_id"]): o for o in book}
    places = [c for c in calls if c.kind == "place_order"]
    groups = [c for c in calls if c.kind in GROUPS]
    ours = {c.coid for c in places} | {x for c in groups for x in group_coids(c.kind, str(c.coid))}
    duplicates = {coid: len(found) for coid, found in by_coid.items() if len(found) > 1}
    foreign = sorted(coid for coid in by_coid if coid not in ours)
    lost, mismatched, field_mismatch, refused_but_held = [], [], [], []
    unknown_without_coid = []
    failed_in_book = failed_absent = reconciled = inactive_held = 0
    failed_types: Counter[str] = Counter()
    for c in places:
        found = by_coid.get(str(c.coid), [])
        if c.outcome == "ok":
            reconciled += bool(c.result and c.result.get("reconciled"))
            if not found:
                lost.append(c.coid)
            elif len(found) == 1 and str(found[0]["order_id"]) != c.order_id:
                mismatched.append(c.coid)
            elif len(found) == 1 and c.result is not None:
                diff = _differs(c.result, found[0])
                if diff:
                    field_mismatch.append(f"{c.coid}: {diff}")
        else:
            failed_types[c.outcome] += 1
            if c.outcome == "OrderUnconfirmed" and str(c.coid) not in c.message:
                unknown_without_coid.append(c.coid)
            if found:
                failed_in_book += 1
                held = [o for o in found if str(o["status"]) != "Inactive"]
                if c.outcome == "OrderInactive" and not held:
                    inactive_held += 1  # refused, and the broker holds it Inactive: both true
                elif c.outcome != "OrderUnconfirmed":
                    refused_but_held.append(f"{c.coid}: {c.outcome} while the broker holds "
                                            f"{[o['status'] for o in found]}")
            else:
                failed_absent += 1
    logical = sim.logical_requests()
    cancels = [c for c in calls if c.kind == "cancel_order"]
    cancel_ok_still_working = [
        c.order_id for c in cancels
        if c.outcome == "ok" and str(by_id.get(str(c.order_id), {}).get("status")) in WORKING
    ]
    stats = sim.stats()
    singles = sum(1 for coid in by_coid if coid in {c.coid for c in places})
    return {
        "groups": _group_summary(groups, book, by_coid),
        "actions": len(calls),
        "threads": cfg.threads,
        "seed": cfg.seed,
        "wall_seconds": round(wall, 2),
        "outcomes": {k: dict(v) for k, v in sorted(outcomes.items())},
        "errors_by_type": dict(errors.most_common()),
        "error_examples": dict(sorted(examples.items())),
        "crashes": crashes[:20],
        "crash_count": len(crashes),
        "over_bound": over_bound[:20],
        "bounds_seconds": {"read": READ_BOUND, "order": ORDER_BOUND},
        "max_duration_seconds": dict(sorted(max_duration.items())),
        "orders": {
            "place_calls": len(places),
            "placed_ok": sum(c.outcome == "ok" for c in places),
            "placed_ok_reconciled": reconciled,
            "place_failed": len(places) - sum(c.outcome == "ok" for c in places),
            "place_failed_by_type": dict(failed_types),
            "unconfirmed": failed_types.get("OrderUnconfirmed", 0),
            "outcome_unknown": failed_types.get("OrderUnconfirmed", 0),
            "outcome_unknown_coids": sorted(str(c.coid) for c in places
                                            if c.outcome == "OrderUnconfirmed")[:20],
            "outcome_unknown_without_coid": unknown_without_coid[:20],
            "reported_refused_but_held": len(refused_but_held),
            "reported_refused_but_held_examples": refused_but_held[:20],
            "inactive_reported_and_held_inactive": inactive_held,
            "result_fields_differ": len(field_mismatch),
            "result_fields_differ_examples": field_mismatch[:20],
            "logical_requests": logical["logical_requests"],
            "logical_duplicates": logical["logical_duplicates"],
            "enforce_coid_unique": cfg.enforce_coid_unique,
            "failed_but_in_book": failed_in_book,
            "failed_and_absent": failed_absent,
            "book_size": len(book),
            "single_order_book_size": singles,
            "duplicates": len(duplicates),
            "duplicate_coids": sorted(duplicates)[:20],
            "lost": len(lost),
            "lost_coids": lost[:20],
            "order_id_mismatch": mismatched[:20],
            "foreign_coids": foreign[:20],
            "cancel_calls": len(cancels),
            "cancel_ok": sum(c.outcome == "ok" for c in cancels),
            "cancel_ok_still_working": cancel_ok_still_working[:20],
            "book_status": dict(Counter(str(o["status"]) for o in book)),
        },
        "modifies": _modify_summary(calls, by_id),
        "sim": {
            key: stats[key] for key in (
                "requests_total", "orders_accepted", "orders_rejected",
                "orders_rejected_duplicate_coid", "orders_cancelled", "orders_filled",
                "questions_asked", "auth_failures", "oauth2_token_requests",
                "sso_session_requests", "lst_requests", "ssodh_init_requests",
                "faults_injected", "faults_injected_total",
            ) if key in stats
        },
    }


#: What a modify call may report while the simulator applied its target: only "unknown".
_MAY_BE_APPLIED = {"ok", "ModifyUnconfirmed"}
_FINAL = {"Filled", "Cancelled", "Inactive"}


def _modify_summary(calls: list[Call], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """modify_order calls against the simulator's own record of the modifications it applied.

    Each op's target quantity is unique, so a target the book applied twice is a modification
    applied twice, and a target the book holds is one the call must not report as refused.
    """
    modifies = [c for c in calls if c.kind == "modify_order"]
    applied_twice: list[str] = []
    for order_id, order in by_id.items():
        counts = Counter(m["quantity"] for m in order.get("modifications", []))
        applied_twice += [f"{order_id}: quantity {q:g} x{n}" for q, n in counts.items() if n > 1]
    differ: list[str] = []
    outcomes: Counter[str] = Counter()
    for c in modifies:
        outcomes[c.outcome] += 1
        order = by_id.get(str(c.order_id), {})
        applied = [m for m in order.get("modifications", []) if m["quantity"] == c.target]
        if c.outcome == "ok" and c.result is not None:
            if not applied:
                differ.append(f"{c.order_id}: reported applied (quantity {c.target:g}), the book "
                              "never applied it")
            elif c.result.get("quantity") != c.target:
                differ.append(f"{c.order_id}: reported quantity {c.result.get('quantity')} for "
                              f"target {c.target:g}")
        elif applied and c.outcome not in _MAY_BE_APPLIED:
            differ.append(f"{c.order_id}: {c.outcome} while the book applied quantity "
                          f"{c.target:g}")
        if c.outcome == "OrderNotWorking" and order.get("status") not in _FINAL:
            differ.append(f"{c.order_id}: OrderNotWorking while the book holds it "
                          f"{order.get('status')}")
    return {
        "modify_calls": len(modifies),
        "outcomes": dict(outcomes),
        "reconciled": sum(bool(c.result and c.result.get("reconciled")) for c in modifies),
        "resent": sum(bool(c.result and c.result.get("resent")) for c in modifies),
        "applied_in_book": sum(len(o.get("modifications", [])) for o in by_id.values()),
        "applied_twice": len(applied_twice),
        "applied_twice_examples": applied_twice[:20],
        "reported_differently": len(differ),
        "reported_differently_examples": differ[:20],
    }


def _leg_differs(leg: dict[str, Any], found: list[dict[str, Any]]) -> str | None:
    """How a reported leg differs from the book (None: it is what the broker holds)."""
    outcome = leg.get("outcome")
    statuses = [o["status"] for o in found]
    if outcome == "unknown":
        return None
    if outcome == "refused":
        return f"reported refused while the broker holds {statuses}" if found else None
    if len(found) != 1:
        return f"reported {outcome} while the broker holds {statuses}"
    held = found[0]
    if (outcome == "inactive") != (held["status"] == "Inactive"):
        return f"reported {outcome} while the broker holds it {held['status']}"
    # A leg is reported as IBKR held it when placed: a later modify_order (the mix modifies
    # resting orders, legs included) changes the book's values, not the placement's truth.
    placed = {**held, **(held.get("placed") or {})}
    checks = {"order_id": str(held["order_id"]), "side": held["side"],
              "quantity": placed["quantity"], "order_type": held["orderType"]}
    wrong = [f"{k}={leg.get(k)!r} vs broker {v!r}" for k, v in checks.items() if leg.get(k) != v]
    price = leg.get("limit_price") if held["orderType"] == "LMT" else leg.get("stop_price")
    if held["orderType"] in ("LMT", "STP") and price != placed["price"]:
        wrong.append(f"price={price!r} vs broker {placed['price']!r}")
    return "; ".join(wrong) or None


def _orphans(book: list[dict[str, Any]]) -> list[str]:
    """Children working while their parent is gone, held after it filled, and OCA groups with a
    filled member and another still working: read from the book alone."""
    by_id = {o["order_id"]: o for o in book}
    out = []
    for order in book:
        if not order.get("parent_id"):
            continue
        parent = by_id.get(order["parent_id"])
        if order["status"] in WORKING and (parent is None or parent["status"] in GONE):
            out.append(f"{order['cOID']} {order['status']} while parent "
                       f"{parent and parent['status']}")
        if order.get("held") and parent is not None and parent["status"] == "Filled":
            out.append(f"{order['cOID']} still held after its parent filled")
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in book:
        if order.get("oca_group"):
            members[order["oca_group"]].append(order)
    for group, orders in members.items():
        done = [o for o in orders if o["status"] == "Filled"]
        working = [o for o in orders if o["status"] in WORKING and not o.get("held")]
        if done and working:
            out.append(f"OCA {group}: {done[0]['cOID']} filled, {working[0]['cOID']} working")
    return out


def _group_summary(groups: list[Call], book: list[dict[str, Any]],
                   by_coid: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each group call's legs compared with the book (the oracle), plus the book's orphans."""
    legs_by_outcome: Counter[str] = Counter()
    differ, refused_held, unknown_without_key = [], [], []
    for c in groups:
        coids = group_coids(c.kind, str(c.coid))
        legs = (c.result or {}).get("legs") or c.legs
        if c.outcome.endswith("Unconfirmed") and str(c.coid) not in c.message:
            unknown_without_key.append(c.coid)
        if not legs:
            held = [x for x in coids if by_coid.get(x)]
            if c.outcome == "ok":
                differ.append(f"{c.coid}: a result without legs")
            elif held and not c.outcome.endswith("Unconfirmed"):
                refused_held.append(f"{c.coid}: {c.outcome} while the broker holds {held}")
            continue
        reported = {str(leg.get("client_order_id")): leg for leg in legs}
        if sorted(reported) != sorted(coids):
            differ.append(f"{c.coid}: legs {sorted(reported)}, expected {coids}")
        for coid in coids:
            leg = reported.get(coid, {"outcome": "missing"})
            legs_by_outcome[str(leg.get("outcome"))] += 1
            wrong = _leg_differs(leg, by_coid.get(coid, []))
            if wrong:
                differ.append(f"{coid} ({c.outcome}): {wrong}")
    orphans = _orphans(book)
    return {
        "group_calls": len(groups),
        "by_kind": dict(Counter(c.kind for c in groups)),
        "by_outcome": dict(Counter(c.outcome for c in groups)),
        "legs_by_outcome": dict(legs_by_outcome),
        "legs_in_book": sum(len(by_coid.get(x, [])) for c in groups
                            for x in group_coids(c.kind, str(c.coid))),
        "legs_reported_differently": len(differ),
        "legs_reported_differently_examples": differ[:20],
        "reported_refused_but_held": len(refused_held),
        "reported_refused_but_held_examples": refused_held[:20],
        "unknown_without_key": unknown_without_key[:20],
        "orphaned_children": len(orphans),
        "orphaned_children_examples": orphans[:20],
    }


def _differs(result: dict[str, Any], book: dict[str, Any]) -> list[str]:
    """Fields of a place_order result that are not the broker's (the book is the oracle; its
    values as placed, since a later modify_order may have changed the order)."""
    placed = book.get("placed") or book
    checks = {"conid": book["conid"], "side": book["side"], "quantity": placed["quantity"],
              "order_type": book["orderType"], "limit_price": placed["price"],
              "tif": placed["tif"], "client_order_id": book["cOID"]}
    out = [f"{k}={result.get(k)!r} vs broker {v!r}" for k, v in checks.items()
           if result.get(k) is not None and result.get(k) != v]
    if result.get("source") != "trades" and result.get("quantity") is None:
        out.append("quantity missing")
    return out


def violations(summary: dict[str, Any]) -> list[str]:
    """Every broken invariant in a summary, as readable lines (empty when all hold)."""
    out: list[str] = []
    orders = summary["orders"]
    if summary["hung_threads"]:
        out.append(f"{summary['hung_threads']} worker threads did not finish")
    out += [f"worker error: {e}" for e in summary["worker_errors"]]
    out += [f"crash (not an IBPluginError): {c}" for c in summary["crashes"]]
    out += [f"over bound: {o}" for o in summary["over_bound"]]
    if orders["duplicates"]:
        out.append(f"cOIDs in the book more than once: {orders['duplicate_coids']}")
    if orders["lost"]:
        out.append(f"placed orders missing from the book: {orders['lost_coids']}")
    if orders["order_id_mismatch"]:
        out.append(f"order_id differs from the book: {orders['order_id_mismatch']}")
    if orders["logical_duplicates"]:
        out.append(f"{orders['logical_duplicates']} logical requests placed more than once")
    if orders["reported_refused_but_held"]:
        out.append(f"reported refused/failed but held by the broker: "
                   f"{orders['reported_refused_but_held_examples']}")
    if orders["result_fields_differ"]:
        out.append(f"results differing from the broker's order: "
                   f"{orders['result_fields_differ_examples']}")
    if orders["outcome_unknown_without_coid"]:
        out.append(f"outcome-unknown errors not naming their cOID: "
                   f"{orders['outcome_unknown_without_coid']}")
    if orders["foreign_coids"]:
        out.append(f"cOIDs in the book that no call sent: {orders['foreign_coids']}")
    if orders["cancel_ok_still_working"]:
        out.append(f"cancel acknowledged but order still working: {orders['cancel_ok_still_working']}")
    modifies = summary["modifies"]
    if modifies["applied_twice"]:
        out.append(f"modifications applied twice: {modifies['applied_twice_examples']}")
    if modifies["reported_differently"]:
        out.append(f"modify outcomes differing from the book: "
                   f"{modifies['reported_differently_examples']}")
    groups = summary["groups"]
    if groups["legs_reported_differently"]:
        out.append(f"group legs reported differently from the book: "
                   f"{groups['legs_reported_differently_examples']}")
    if groups["reported_refused_but_held"]:
        out.append(f"groups reported failed while the broker holds legs: "
                   f"{groups['reported_refused_but_held_examples']}")
    if groups["unknown_without_key"]:
        out.append(f"group outcome-unknown errors not naming their key: "
                   f"{groups['unknown_without_key']}")
    if groups["orphaned_children"]:
        out.append(f"orphaned children / broken OCA: {groups['orphaned_children_examples']}")
    if summary["actions"] != summary["expected_actions"]:
        out.append(f"{summary['actions']} of {summary['expected_actions']} actions ran")
    return out

