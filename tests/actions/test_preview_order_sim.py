"""preview_order (IBKR's whatif) against the simulator: the figures, the refusals, and that a
preview never places anything (the book is unchanged, no placement or reply request is sent).

Oracles: IBKR Pro's fixed commission rule written out here, and what the simulator's account
summary shows after the same order really fills (not the whatif code).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.actions.order_preview import read_preview
from noetl_ib_plugin.actions.outputs import PreviewOrderOutput
from noetl_ib_plugin.client import IBClient
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import (
    AmbiguousContract,
    ContractMismatch,
    InputError,
    LiveTradingRefused,
    OrderRejected,
    TransientError,
)
from noetl_ib_plugin.runner import default_host, output_schema
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, one_json, process_env
from tests.fixtures.simulators import act, client_for

CRED = "sim_oauth2"
ACCOUNT = "DU1234567"
AAPL, MSFT, IBM = 265598, 272093, 8314
WHATIF = "POST /v1/api/iserver/account/{acct}/orders/whatif"
#: Every request that could submit an order: placement and question replies.
SUBMITTING = ("POST /v1/api/iserver/account/{acct}/orders", "POST /v1/api/iserver/reply/{id}")


def ibkr_pro_fixed_commission(shares: float, value: float) -> float:
    """IBKR Pro fixed pricing (US stocks): USD 0.005 a share, at least 1.00, at most 1 % of value."""
    per_share = shares * 0.005
    return min(value * 0.01, per_share if per_share > 1.0 else 1.0)


@pytest.fixture
def pinned(sim_reset: Simulator) -> Iterator[Simulator]:
    """Every starting position's price pinned (summary figures stop drifting), whatif questions off."""
    for conid, price in ((AAPL, 100.0), (MSFT, 400.0), (IBM, 180.0)):
        sim_reset.set_price(conid, price)
    yield sim_reset
    sim_reset.set_order_options(whatif_questions=False)


def _book(sim: Simulator) -> tuple[list[dict[str, Any]], list[tuple[int, float]]]:
    """The simulator's orders and the account's positions (conid, quantity)."""
    positions = act(sim, CRED, "get_positions")["positions"]
    return sim.orders(), sorted((p["conid"], p["position"]) for p in positions)


def _sent(sim: Simulator, endpoint: str) -> int:
    """Requests the simulator counted for one route."""
    return int(sim.stats()["requests_by_endpoint"].get(endpoint, 0))


def _submitting(sim: Simulator) -> int:
    """Requests that could have submitted an order."""
    return sum(_sent(sim, e) for e in SUBMITTING)


def test_preview_figures_are_what_placing_the_order_then_does(pinned: Simulator) -> None:
    """Amount, commission, position and margin change of a preview match the real fill after it."""
    before_book = _book(pinned)
    summary = act(pinned, CRED, "account_summary")
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=10,
              order_type="MKT")
    assert _book(pinned) == before_book and _submitting(pinned) == 0
    fee = ibkr_pro_fixed_commission(10, 10 * 100.0)
    assert (out["amount"], out["commission"], out["total"], out["currency"]) == (
        1000.0, fee, 1000.0 + fee, "USD")
    assert out["position"] == {"current": 100.0, "change": 10.0, "after": 110.0}
    assert out["equity"]["current"] == pytest.approx(summary["equity_with_loan"], abs=0.01)
    assert out["equity"]["change"] == pytest.approx(-fee, abs=0.01)
    assert out["placed"] is False and out["question_ids"] == [] and out["warnings"] == []
    act(pinned, CRED, "place_order", symbol="AAPL", side="BUY", quantity=10, order_type="MKT")
    after = act(pinned, CRED, "account_summary")
    for name, field in (("initial_margin", "init_margin"), ("maintenance_margin", "maint_margin")):
        assert out[name]["current"] == pytest.approx(summary[field], abs=0.01)
        assert out[name]["change"] == pytest.approx(after[field] - summary[field], abs=0.02)
        assert out[name]["after"] == pytest.approx(after[field], abs=0.02)


def test_preview_of_a_sell_reports_the_position_going_down(pinned: Simulator) -> None:
    """A SELL LMT preview: position 100 -> 60, amount at the limit, commission by IBKR's rule."""
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="SELL", quantity=40,
              order_type="LMT", limit_price=100.5)
    assert out["position"] == {"current": 100.0, "change": -40.0, "after": 60.0}
    assert out["amount"] == pytest.approx(40 * 100.5)
    assert out["commission"] == pytest.approx(ibkr_pro_fixed_commission(40, 40 * 100.5))
    assert (out["order_type"], out["limit_price"], out["side"]) == ("LMT", 100.5, "SELL")
    assert out["initial_margin"]["change"] < 0  # a smaller position needs less margin


def test_preview_of_a_cash_quantity_order_reports_ibkrs_figures(pinned: Simulator) -> None:
    """BUY cash_quantity=1000 LMT 98: a preview (amount near 1000 USD), nothing placed."""
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", cash_quantity=1000,
              order_type="LMT", limit_price=98)
    assert out["amount"] == pytest.approx(1000.0, abs=98.0) and out["currency"] == "USD"
    assert (out["quantity"], out["placed"], _submitting(pinned)) == (None, False, 0)


def test_preview_sends_one_whatif_request_and_nothing_that_submits(pinned: Simulator) -> None:
    """The only order-path request of a preview is the whatif one; the book stays as it was."""
    before = _book(pinned)
    for kind in ({"order_type": "MKT"}, {"order_type": "LMT", "limit_price": 99.0},
                 {"order_type": "STP", "stop_price": 95.0}):
        act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=5, **kind)
    assert _sent(pinned, WHATIF) == 3
    assert _submitting(pinned) == 0
    assert _book(pinned) == before and pinned.orders() == []


def test_question_answer_is_reported_never_answered(pinned: Simulator) -> None:
    """IBKR answering the preview with a question: ids and text listed, nothing replied or placed."""
    pinned.set_order_options(whatif_questions=True)
    before = _book(pinned)
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
              order_type="LMT", limit_price=90.0)
    assert out["question_ids"] == ["o163"]
    assert "Percentage constraint" in out["warnings"][0]
    assert out["commission"] is None and out["amount"] is None and out["placed"] is False
    assert _submitting(pinned) == 0 and _book(pinned) == before


def test_the_simulator_places_a_whatif_question_confirmed(pinned: Simulator) -> None:
    """The hazard the previous test guards: confirming a whatif question submits the order."""
    pinned.set_order_options(whatif_questions=True)
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
              order_type="LMT", limit_price=90.0)
    reply_id = out["texts"]["questions"][0]["id"]
    client_for(pinned, CRED).post(f"/iserver/reply/{reply_id}", json={"confirmed": True})
    assert [o["conid"] for o in pinned.orders()] == [AAPL]


def test_questions_placement_would_ask_are_warnings_of_the_preview(pinned: Simulator) -> None:
    """By default the simulator lists those questions under `warn`: figures and warnings both."""
    out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
              order_type="LMT", limit_price=90.0)
    assert out["amount"] == 90.0 and out["question_ids"] == []
    assert len(out["warnings"]) == 1 and "Percentage constraint of 3%" in out["warnings"][0]
    assert "Are you sure" not in out["warnings"][0]


def test_ibkr_refusal_of_the_previewed_order_is_order_rejected(pinned: Simulator) -> None:
    """A fractional LSE order: IBKR's whatif error is OrderRejected; nothing placed."""
    before = _book(pinned)
    with pytest.raises(OrderRejected) as info:
        act(pinned, CRED, "preview_order", symbol="VOD", side="BUY", quantity=1.5,
            order_type="MKT")
    assert "whole shares" in str(info.value) and "nothing was placed" in str(info.value)
    assert _sent(pinned, WHATIF) == 1 and _submitting(pinned) == 0 and _book(pinned) == before


@pytest.mark.parametrize(
    ("args", "error", "field"),
    [
        ({"symbol": "AAPL", "sec_type": "OPT"}, ContractMismatch, "sec_type"),
        ({"conid": AAPL, "sec_type": "OPT"}, ContractMismatch, "sec_type"),
        ({"conid": AAPL, "exchange": "NYSE"}, ContractMismatch, "exchange"),
        ({"symbol": "BHP"}, AmbiguousContract, None),
        ({"symbol": "AAPL", "client_order_id": "k-1"}, InputError, "client_order_id"),
        ({"symbol": "AAPL", "confirm": "o163"}, InputError, "confirm"),
        ({"symbol": "AAPL", "limit_price": 10.0}, InputError, "limit_price"),
    ],
)
def test_refused_before_any_request_where_placement_would_be(
        pinned: Simulator, args: dict[str, Any], error: type[Exception], field: str | None) -> None:
    """The placement's checks refuse the preview too, before the whatif request is sent."""
    before = _book(pinned)
    with pytest.raises(error) as info:
        act(pinned, CRED, "preview_order", side="BUY", quantity=1, order_type="MKT", **args)
    if field is not None:
        assert getattr(info.value, "field", None) == field
    assert _sent(pinned, WHATIF) == 0 and _submitting(pinned) == 0 and _book(pinned) == before


def test_a_live_account_needs_the_live_opt_ins_to_preview(pinned: Simulator) -> None:
    """The trading guard holds for previews: a live account without allow_live is refused."""
    pinned.set_paper_status(ACCOUNT, False)
    try:
        with pytest.raises(LiveTradingRefused):
            act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
                order_type="MKT")
    finally:
        pinned.set_paper_status(ACCOUNT, True)
    assert _sent(pinned, WHATIF) == 0


def test_a_preview_leaves_the_client_order_id_free(pinned: Simulator,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The whatif ticket carries no cOID: the order placed after it under a key is accepted."""
    sent: list[tuple[str, Any]] = []
    post = IBClient.post

    def spy(self: IBClient, path: str, json: Any = None, **kw: Any) -> Any:
        sent.append((path, json))
        return post(self, path, json, **kw)

    monkeypatch.setattr(IBClient, "post", spy)
    order = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
             "limit_price": 99.0}
    act(pinned, CRED, "preview_order", **order)
    [(path, body)] = [(p, b) for p, b in sent if p.startswith("/iserver/account/")]
    assert path == f"/iserver/account/{ACCOUNT}/orders/whatif"
    assert "cOID" not in body["orders"][0] and body["orders"][0]["price"] == 99.0
    placed = act(pinned, CRED, "place_order", client_order_id="after-preview-1", **order)
    assert placed["client_order_id"] == "after-preview-1"
    assert [o["cOID"] for o in pinned.orders()] == ["after-preview-1"]
    assert _sent(pinned, SUBMITTING[0]) == 1  # the counter the other tests read is live


def test_input_schema_lists_no_placement_only_argument() -> None:
    """`noetl-ib actions preview_order` shows no client_order_id, confirm or decline."""
    schema = default_host().registry.actions["preview_order"].input_model.model_json_schema()
    assert {"client_order_id", "confirm", "decline"}.isdisjoint(schema["properties"])
    assert {"symbol", "side", "quantity", "order_type", "limit_price"} <= set(schema["properties"])


def test_preview_through_the_cli_and_entry_main(pinned: Simulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`noetl-ib run preview_order ...` and entry.main give the published schema, numbers as numbers."""
    monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(pinned.credentials_file))
    schema = output_schema(default_host().registry.actions["preview_order"])
    assert schema is not None
    run = cli("run", "preview_order", "--credential", CRED, "symbol=AAPL", "side=BUY",
              "quantity=2", "order_type=LMT", "limit_price=99", env=process_env())
    assert run.returncode == 0, run.stderr
    printed = one_json(run.stdout)
    jsonschema.validate(printed, schema)
    assert printed["amount"] == 198.0 and isinstance(printed["commission"], float)
    result = main("preview_order", credential=CRED, symbol="AAPL", side="BUY", quantity=2,
                  order_type="LMT", limit_price=99)
    jsonschema.validate(json.loads(json.dumps(result)), schema)
    assert result["ok"] is True and result["placed"] is False and result["amount"] == 198.0
    assert pinned.orders() == []


def test_trading_client_preview_order_is_typed(pinned: Simulator) -> None:
    """TradingClient.preview_order returns PreviewOrderOutput with float figures."""
    with TradingClient(CRED, credentials_file=pinned.credentials_file) as ib:
        out = ib.preview_order(symbol="AAPL", side="BUY", quantity=3, order_type="MKT")
    assert isinstance(out, PreviewOrderOutput)
    assert out.amount == 300.0 and out.position.after == 103.0
    assert isinstance(out.initial_margin.change, float) and out.initial_margin.change > 0
    assert pinned.orders() == []


def test_a_failed_whatif_request_is_retried_since_it_places_nothing(pinned: Simulator) -> None:
    """500s and garbage on the whatif path: retried or TransientError, never outcome unknown."""
    pinned.set_faults({"seed": 7, "http_500": 0.5, "paths": [f"/v1/api/iserver/account/{ACCOUNT}/"
                                                             "orders/whatif"]})
    try:
        for _ in range(6):
            out = act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
                      order_type="MKT")
            assert out["amount"] == 100.0
        assert pinned.stats()["faults_injected"].get("http_500", 0) > 0
        pinned.set_faults({"seed": 7, "garbage_shape": 1.0, "paths": ["/v1/api/iserver/"]})
        with pytest.raises(TransientError):
            act(pinned, CRED, "preview_order", symbol="AAPL", side="BUY", quantity=1,
                order_type="MKT")
    finally:
        pinned.set_faults({})
    assert _submitting(pinned) == 0 and pinned.orders() == []


def test_simulator_whatif_answers_an_unknown_contract_with_ibkr_error(pinned: Simulator) -> None:
    """The simulator's whatif for a conid it does not know is IBKR's `{"error"}`, read as a refusal."""
    client = client_for(pinned, CRED)
    client.get("/iserver/accounts")
    ticket = {"acctId": ACCOUNT, "conid": 999999, "orderType": "MKT", "side": "BUY",
              "quantity": 1, "tif": "DAY"}
    path = f"/iserver/account/{ACCOUNT}/orders/whatif"
    body = client.post(path, json={"orders": [ticket]}, idempotent=True)
    assert body == {"error": "Invalid contract id: 999999"}
    with pytest.raises(OrderRejected):
        read_preview(body, path)
    assert _submitting(pinned) == 0 and pinned.orders() == []
