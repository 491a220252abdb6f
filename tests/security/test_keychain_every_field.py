"""Issue 25 review: a hostile NoETL keychain rewrites each field of the shared token entry.

Whatever one field says (token value, times, scheme, kind, key, extra.*, state.* of every name),
a paper `place_order` step in a fresh process places exactly its one order on the record's own
account, or fails with a typed error; never a traceback, a second order or a hang; and the
host's cache file it leaves behind still serves the next step without the keychain.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, process_env
from tests.e2e.noetl_server import NoetlServer

ORDER = ["symbol=AAPL", "side=BUY", "quantity=1", "order_type=MKT"]
DAY = 86_400.0
Rewrite = Callable[[dict[str, Any], float], None]


def _set(path: str, value: Any) -> Rewrite:
    """Set `path` (dots) of the keychain data to `value` (a callable gets the clock)."""
    def rewrite(data: dict[str, Any], now: float) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value(now) if callable(value) else value
    return rewrite


#: One rewrite per field (and per kind of lie about it).
REWRITES: dict[str, Rewrite] = {
    "value-foreign": _set("entry.value", "attackerToken0123456789"),
    "value-crlf": _set("entry.value", "t\r\nX-Injected: 1"),
    "value-type": _set("entry.value", ["t"]),
    "expires-31d": _set("entry.expires_at", lambda now: now + 30 * DAY),
    "expires-past": _set("entry.expires_at", lambda now: now - 10),
    "obtained-zero": _set("entry.obtained_at", 0),
    "obtained-future": _set("entry.obtained_at", lambda now: now + 1000),
    "obtained-string": _set("entry.obtained_at", "yesterday"),
    "scheme-oauth1a": _set("entry.scheme", "oauth1a"),
    "scheme-type": _set("entry.scheme", 7),
    "kind-claim": _set("kind", "noetl-ib-claim"),
    "kind-other": _set("kind", "something"),
    "key-other": _set("key", "another_key_0000"),
    "entry-type": _set("entry", "not an object"),
    "extra-type": _set("entry.extra", "not an object"),
    "extra-access-foreign": lambda d, now: d["entry"].setdefault("extra", {}).update(
        access_token="attacker-access", access_expires_at=now + 30 * DAY,
        access_obtained_at=now),
    "extra-access-huge": _set("entry.extra.access_expires_at", 1e308),
    "extra-url": _set("entry.extra.api_base_url", "http://127.0.0.1:9/"),
    "state-brokerage-open-now": _set("entry.state.brokerage", lambda now: {
        "opened_at": now, "accounts": ["U3330001"], "selected_account": "U3330001",
        "is_paper": True, "flags": ["orders_primed"]}),
    "state-brokerage-ancient": _set("entry.state.brokerage.opened_at", 1.0),
    "state-portfolio-open-now": _set("entry.state.portfolio", lambda now: {
        "session_opened_at": now}),
    "state-unknown-name": _set("entry.state.iserver", {"authenticated": True}),
    "state-type": _set("entry.state", ["brokerage"]),
    "deep-nesting": _set("entry.extra.deep", json.loads("[" * 40 + "]" * 40)),
}


class Rewriter(NoetlServer):
    """The stand-in NoETL server, except that every token entry it answers has one field rewritten."""

    rewrite: Rewrite | None = None
    rewritten = 0

    def _keychain(self, method: str, catalog: int, name: str, query: dict[str, list[str]],
                  body: Any) -> tuple[int, Any]:
        status, out = super()._keychain(method, catalog, name, query, body)
        data = out.get("data") if isinstance(out, dict) else None
        if (method == "GET" and self.rewrite is not None and isinstance(data, dict)
                and data.get("kind") == "noetl-ib-token"):
            data = copy.deepcopy(data)
            self.rewrite(data, time.time())
            self.rewritten += 1
            out = {**out, "data": data}
        return status, out


@pytest.fixture(scope="module")
def rewriter() -> Iterator[Rewriter]:
    """A hostile NoETL keychain on loopback, shared by the module (its store is cleared per test)."""
    server = Rewriter()
    server.start()
    yield server
    server.stop()


def _step(env: dict[str, str], coid: str) -> tuple[int, str]:
    """One `place_order` step in a fresh process: (exit code, error type or "")."""
    done = cli("run", "place_order", "-c", "sim_oauth2", *ORDER, f"client_order_id={coid}",
               env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode == 0:
        return 0, ""
    return done.returncode, json.loads(done.stderr.splitlines()[-1])["error"]["type"]


@pytest.mark.parametrize("name", sorted(REWRITES))
def test_one_rewritten_keychain_field_never_misplaces_an_order(
    sim_env: Simulator, rewriter: Rewriter, name: str
) -> None:
    """Each rewritten field: every step places its one order on the paper account, no traceback."""
    with rewriter.lock:
        rewriter.keychain.clear()
    rewriter.rewrite, rewriter.rewritten = REWRITES[name], 0
    env = process_env(NOETL_SERVER_URL=rewriter.url, NOETL_IB_KEYCHAIN_CATALOG_ID="42",
                      NOETL_IB_PACING="off")
    outcomes = [_step(env, f"kc-{name}-{i}") for i in range(2)]
    rewriter.rewrite = None
    assert rewriter.rewritten >= 1  # the second step at least was handed the lie
    alone = _step(process_env(NOETL_IB_PACING="off"), f"kc-{name}-host")  # the host file only
    assert outcomes == [(0, "")] * 2
    assert alone == (0, "")
    orders = sim_env.orders()
    assert len(orders) == 3
    accounts = {o.get("account") or o.get("acct") for o in orders}
    assert len(accounts) == 1 and all(str(a).startswith("DU") for a in accounts), orders
