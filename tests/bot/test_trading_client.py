"""TradingClient against the simulator: typed results, the actions' machinery, threads, keepalive."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.actions.outputs import (
    AccountSummaryOutput,
    HistoryOutput,
    LedgerOutput,
    PlaceOrderOutput,
    PositionsOutput,
    SnapshotOutput,
)
from noetl_ib_plugin.errors import BrokerError, CredentialError, InputError
from noetl_ib_plugin.runner import get_client
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import process_env

REPO = Path(__file__).resolve().parents[2]
AAPL = 265598


def test_bot_flow_returns_typed_models(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """connect, balance, positions, quote, resting order, cancel: each returns its output model."""
    sim_reset.set_price(AAPL, 100.0)
    with TradingClient.from_env() as ib:
        assert not ib.is_connected()  # nothing fetched yet, and asking fetched nothing
        assert sim_reset.stats()["lst_requests"] == 0
        status = ib.connect()
        assert status.authenticated and ib.is_connected()
        balance = ib.get_account_balance()
        assert isinstance(balance, AccountSummaryOutput) and balance.account_id == "DU7654321"
        assert isinstance(balance.available_funds, float)
        positions = ib.get_positions()
        assert isinstance(positions, PositionsOutput) and positions.count == 123
        quote = ib.get_market_data("AAPL")
        assert isinstance(quote, SnapshotOutput) and quote.snapshots[0].last == 100.0
        order = ib.place_order(symbol="AAPL", side="BUY", quantity=2, order_type="LMT",
                               limit_price=98.0)
        assert isinstance(order, PlaceOrderOutput) and order.status == "Submitted"
        open_ids = [o.order_id for o in ib.get_open_orders().orders]
        assert order.order_id in open_ids
        assert ib.cancel_order(order.order_id).status == "cancel_requested"
        assert isinstance(ib.get_history("AAPL", period="1w", bar="1d"), HistoryOutput)
        assert isinstance(ib.get_ledger(), LedgerOutput)
        assert ib.get_accounts().default_account == "DU7654321"
        assert ib.get_trades().count == 0
    (row,) = [o for o in sim_reset.orders() if o["cOID"] == order.client_order_id]
    assert row["status"] == "Cancelled"


def test_same_client_order_id_is_sent_once(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """A bot resending with the same client_order_id gets the same order, not a second one."""
    sim_reset.set_price(AAPL, 100.0)
    with TradingClient.from_env() as ib:
        first = ib.place_order(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                               limit_price=99.0, client_order_id="bot-once")
        again = ib.place_order(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                               limit_price=99.0, client_order_id="bot-once")
    assert again.order_id == first.order_id and again.reconciled
    assert [o["cOID"] for o in sim_reset.orders()].count("bot-once") == 1


def test_threads_share_one_client_and_one_token(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """Eight threads placing orders through one TradingClient: one LST, eight distinct orders."""
    sim_reset.set_price(AAPL, 100.0)
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()
    with TradingClient.from_env() as ib:

        def place(n: int) -> None:
            try:
                out = ib.place_order(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                                     limit_price=99.0, client_order_id=f"thread-{n}")
                with lock:
                    ids.append(out.order_id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=place, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors and len(set(ids)) == 8
    assert sim_reset.stats()["lst_requests"] == 1
    assert sorted(o["cOID"] for o in sim_reset.orders()) == sorted(f"thread-{n}" for n in range(8))


def test_uses_the_runner_client_of_the_credential(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """The bot and playbook steps in one process share one IBClient (provider, cache, pacer)."""
    with TradingClient.from_env() as ib:
        ib.connect()
        assert get_client(ib.record).provider.is_token_valid()
        ib.get_positions()
    assert sim_reset.stats()["lst_requests"] == 1 and sim_reset.stats()["ssodh_init_requests"] == 1


def test_typed_errors_reach_the_bot(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """Bad input is an InputError naming the field; IBKR's refusal is a BrokerError."""
    with TradingClient.from_env() as ib:
        with pytest.raises(InputError) as info:
            ib.place_order(symbol="AAPL", side="BUY", quantity=-1, order_type="MKT")
        assert info.value.field == "quantity"
        with pytest.raises(BrokerError):
            ib.cancel_order("1")


def test_closed_client_refuses_calls(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """After close() every call raises InputError instead of silently reconnecting."""
    ib = TradingClient.from_env()
    ib.close()
    with pytest.raises(InputError) as info:
        ib.get_positions()
    assert info.value.field == "client"
    with pytest.raises(InputError):
        ib.connect()
    assert "closed=True" in repr(ib)


def test_keepalive_tickles_until_closed(sim_reset: Simulator, bot_env: dict[str, str]) -> None:
    """keepalive=True tickles in the background; close() stops the thread."""
    ib = TradingClient.from_env(keepalive=True, keepalive_interval=0.05)
    try:
        ib.connect()
        deadline = time.monotonic() + 60
        while sim_reset.stats()["requests_by_endpoint"].get("POST /v1/api/tickle", 0) < 2:
            assert time.monotonic() < deadline, "no tickle within 60 s"
            time.sleep(0.05)
        assert ib.keepalive_running
    finally:
        ib.close()
    assert not ib.keepalive_running


def test_keepalive_interval_must_be_positive(bot_env: dict[str, str]) -> None:
    """A zero interval is refused, naming keepalive_interval."""
    with pytest.raises(InputError) as info:
        TradingClient.from_env(keepalive=True, keepalive_interval=0)
    assert info.value.field == "keepalive_interval"


def test_from_env_errors_name_the_variable(bot_env: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot with one variable missing gets a CredentialError naming it, and no secret."""
    monkeypatch.delenv("OAUTH_ACCESS_TOKEN_SECRET")
    with pytest.raises(CredentialError) as info:
        TradingClient.from_env()
    assert info.value.field == "OAUTH_ACCESS_TOKEN_SECRET"
    assert bot_env["OAUTH_ACCESS_TOKEN"] not in str(info.value)


def test_by_record_name(sim_reset: Simulator) -> None:
    """A record name from a credentials file works like the environment."""
    with TradingClient("sim_oauth2", credentials_file=sim_reset.credentials_file) as ib:
        assert ib.get_positions().account_id == "DU1234567"
        assert "sim_oauth2" in repr(ib)


def test_bot_example_runs_against_the_simulator(tmp_path: Path) -> None:
    """examples/bot.py (quote, preview, resting order, cancel, trailing stop, bracket) exits 0."""
    env = process_env(NOETL_IB_CACHE_DIR=str(tmp_path / "cache"))
    for var in ("OAUTH_CONSUMER_KEY", "OAUTH_ACCESS_TOKEN", "NOETL_IB_CREDENTIALS"):
        env.pop(var, None)
    run = subprocess.run([sys.executable, str(REPO / "examples" / "bot.py")], capture_output=True,
                         text=True, env=env, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["connected"] is True and summary["account_id"].startswith("DU")
    assert summary["positions"] > 0 and summary["quote"]["bid"] > 0
    assert summary["order"]["status"] == "Submitted"
    assert summary["order"]["limit_price"] < summary["quote"]["bid"]
    assert summary["cancel"] == "cancel_requested"
    # The preview of the same order: IBKR Pro's fixed commission for one share is its 1 % cap
    # or the 1.00 minimum; the margin grows with the position.
    limit = summary["order"]["limit_price"]
    assert summary["preview"]["commission"] == pytest.approx(min(1.0, 0.01 * limit))
    assert summary["preview"]["currency"] == "USD"
    assert summary["preview"]["initial_margin_change"] > 0
    assert summary["trailing_stop"]["placed_percent"] == 5
    assert summary["trailing_stop"]["modified_percent"] == 4
    assert summary["trailing_stop"]["outcome"] == "applied"
    assert summary["trailing_stop"]["status"] in ("PreSubmitted", "Submitted")
    assert summary["trailing_stop"]["cancel"] == "cancel_requested"
    assert summary["bracket"]["legs"] == {"parent": "Submitted", "take_profit": "PreSubmitted",
                                          "stop_loss": "PreSubmitted"}
    assert summary["bracket"]["cancel"] == "cancel_requested"


def test_bot_example_runs_twice_against_one_simulator(sim_reset: Simulator, bot_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """examples/bot.py --from-env twice: two orders under two keys, no IdempotencyKeyConflict."""
    env = process_env(**bot_env, NOETL_IB_CACHE_DIR=str(tmp_path / "cache"))
    keys = []
    for _ in range(2):
        run = subprocess.run([sys.executable, str(REPO / "examples" / "bot.py"), "--from-env"],
                             capture_output=True, text=True, env=env, timeout=180, check=False)
        assert run.returncode == 0, run.stderr
        keys.append(json.loads(run.stdout.strip().splitlines()[-1])["order"]["client_order_id"])
    assert keys[0] != keys[1] and all(k.startswith("swing-aapl-buy-") for k in keys)
    book = {o["cOID"]: o["status"] for o in sim_reset.orders()}
    assert [book[k] for k in keys] == ["Cancelled", "Cancelled"]


def test_no_secret_in_logs_reprs_or_errors(sim_reset: Simulator, bot_env: dict[str, str],
                                           debug_logs: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot run at DEBUG, its repr and a failing call never show the OAUTH_* secrets or keys."""
    secrets = [bot_env["OAUTH_ACCESS_TOKEN"], bot_env["OAUTH_ACCESS_TOKEN_SECRET"]]
    for path in ("OAUTH_SIGNATURE_PATH", "OAUTH_ENCRYPTION_PATH"):
        pem = Path(bot_env[path]).read_text(encoding="utf-8")
        secrets += [line for line in pem.splitlines() if len(line) > 40]
    with TradingClient.from_env() as ib:
        ib.connect()
        ib.get_positions()
        with pytest.raises(BrokerError) as info:
            ib.cancel_order("1")
        shown = repr(ib) + str(info.value) + repr(ib.record) + debug_logs.text
    monkeypatch.setenv("OAUTH_DH_PRIME", "zz")
    with pytest.raises(CredentialError) as bad:
        TradingClient.from_env()
    shown += str(bad.value)
    for secret in secrets:
        assert secret not in shown


def _four_threads(ib: TradingClient, orders: list[dict[str, object]]) -> list[object]:
    """Run one place_order per entry of `orders` in its own thread, released together."""
    barrier = threading.Barrier(len(orders))
    outcomes: list[object] = [None] * len(orders)

    def place(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = ib.place_order(**orders[i])  # type: ignore[arg-type]
        except Exception as exc:  # the outcome is what the test reads
            outcomes[i] = exc

    threads = [threading.Thread(target=place, args=(i,)) for i in range(len(orders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_threads_placing_one_coid_send_it_once(sim_reset: Simulator) -> None:
    """Uniqueness off at IBKR, 4 threads, one cOID: one order, all four get its order id."""
    sim_reset.set_price(AAPL, 100.0)
    sim_reset.set_order_options(enforce_coid_unique=False)
    sim_reset.set_faults({"latency_ms": 300, "paths": ["/v1/api/iserver/account/"],
                          "methods": ["POST"]})  # the first is in flight when the others ask
    order = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
             "limit_price": 99.0, "client_order_id": "one-coid-4-threads"}
    with TradingClient("sim_oauth2", credentials_file=sim_reset.credentials_file) as ib:
        outcomes = _four_threads(ib, [order] * 4)
    placed = [o for o in outcomes if isinstance(o, PlaceOrderOutput)]
    assert len(placed) == 4, outcomes
    assert len({o.order_id for o in placed}) == 1
    assert [o["cOID"] for o in sim_reset.orders()] == ["one-coid-4-threads"]


def test_a_different_order_under_a_coid_in_flight_is_a_conflict(sim_reset: Simulator) -> None:
    """A thread asking for another order under a cOID another thread is placing: conflict."""
    sim_reset.set_price(AAPL, 100.0)
    sim_reset.set_order_options(enforce_coid_unique=False)
    sim_reset.set_faults({"latency_ms": 300, "paths": ["/v1/api/iserver/account/"],
                          "methods": ["POST"]})
    order = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
             "limit_price": 99.0, "client_order_id": "coid-two-orders"}
    with TradingClient("sim_oauth2", credentials_file=sim_reset.credentials_file) as ib:
        outcomes = _four_threads(ib, [order, {**order, "quantity": 5}])
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds in (["IdempotencyKeyConflict", "PlaceOrderOutput"],)
    assert len(sim_reset.orders()) == 1
