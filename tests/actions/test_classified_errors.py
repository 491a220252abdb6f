"""Errors classified right against the simulator: foreign accounts, unknown or ambiguous contracts."""

from __future__ import annotations

from typing import Any, cast

import pytest

from noetl_ib_plugin.actions.marketdata import snapshot
from noetl_ib_plugin.actions.models import SnapshotInput
from noetl_ib_plugin.actions.outputs import output_json
from noetl_ib_plugin.client import IBClient
from noetl_ib_plugin.errors import (
    AmbiguousContract,
    ContractNotFound,
    InputError,
    TransientError,
)
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import ACCOUNTS, CREDS, act

AAPL = 265598


def _requests_to(sim_reset: Simulator, fragment: str) -> int:
    """How many trading-API requests the simulator saw on endpoints containing `fragment`."""
    by_endpoint: dict[str, int] = sim_reset.stats()["requests_by_endpoint"]
    return sum(n for endpoint, n in by_endpoint.items() if fragment in endpoint)


@pytest.mark.parametrize("cred", CREDS)
def test_foreign_account_is_an_input_error_listing_the_accounts(sim_reset: Simulator, cred: str) -> None:
    """get_positions account_id=<not the credential's>: InputError on account_id, no retries."""
    with pytest.raises(InputError) as info:
        act(sim_reset, cred, "get_positions", account_id="DU0000000")
    err = info.value
    assert err.field == "account_id" and err.category == "input"
    assert ACCOUNTS[cred] in err.message  # lists the accounts that exist
    assert err.fix is not None and f"account_id={ACCOUNTS[cred]}" in err.fix
    assert _requests_to(sim_reset, "/positions/") == 1  # answered once, never retried


def test_unknown_conid_is_contract_not_found_after_two_polls(sim_reset: Simulator) -> None:
    """snapshot conids=1: ContractNotFound naming conid 1 after 2 polls, not max_wait of polling."""
    with pytest.raises(ContractNotFound) as info:
        act(sim_reset, "sim_oauth2", "snapshot", conids=[1], fields=["last"], max_wait=30)
    assert "conid 1" in info.value.message and info.value.field == "conids"
    assert _requests_to(sim_reset, "marketdata/snapshot") == 2
    assert _requests_to(sim_reset, "/contract/") == 1  # the 500 "Invalid conid" is not retried


def test_one_unknown_symbol_is_reported_and_the_rest_quoted(sim_reset: Simulator) -> None:
    """symbols=AAPL,NOPE and conids=1: AAPL quoted, NOPE and conid 1 listed under errors."""
    out = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL", "NOPE"], conids=[1],
              fields=["last"])
    assert [q["conid"] for q in out["snapshots"]] == [AAPL]
    assert isinstance(out["snapshots"][0]["last"], float)
    assert out["partial"] is True and out["complete"] is False
    by_key = {e.get("symbol") or e.get("conid"): e for e in out["errors"]}
    assert by_key["NOPE"]["type"] == "ContractNotFound"
    assert by_key[1]["type"] == "ContractNotFound"


def test_repeated_unknown_conid_is_listed_once_not_a_crash(sim_reset: Simulator) -> None:
    """snapshot conids=[1, 1] with AAPL: conid 1 listed once under errors (was a ValueError)."""
    out = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL"], conids=[1, 1], fields=["last"])
    assert [q["conid"] for q in out["snapshots"]] == [AAPL]
    assert [e["conid"] for e in out["errors"]] == [1]


def test_all_or_nothing_fails_the_whole_snapshot(sim_reset: Simulator) -> None:
    """all_or_nothing=true: one unknown symbol raises ContractNotFound naming it."""
    with pytest.raises(ContractNotFound, match="NOPE"):
        act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL", "NOPE"], fields=["last"],
            all_or_nothing=True)


def test_ambiguous_snapshot_hint_names_the_conids_argument(sim_reset: Simulator) -> None:
    """The ambiguity fix names `conids=<a candidate>` (the snapshot's argument), which then works."""
    with pytest.raises(AmbiguousContract) as info:
        act(sim_reset, "sim_oauth2", "snapshot", symbols=["BHP"], fields=["last"])
    fix = info.value.fix or ""
    assert "conids=4036812" in fix and "conid=" not in fix.replace("conids=", "")
    out = act(sim_reset, "sim_oauth2", "snapshot", conids=[4036812], fields=["last"])
    assert out["snapshots"][0]["conid"] == 4036812


def test_ambiguous_order_hint_names_the_conid_argument(sim_reset: Simulator) -> None:
    """place_order's ambiguity fix names `conid=` (its argument), not `conids=`."""
    with pytest.raises(AmbiguousContract) as info:
        act(sim_reset, "sim_oauth2", "place_order", symbol="BHP", side="BUY", quantity=1,
            order_type="MKT")
    assert "conid=4036812" in (info.value.fix or "") and "conids=" not in (info.value.fix or "")


class _CannedClient:
    """Answers every GET with one canned body: the snapshot's shape check in isolation."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.now = 0.0

    def get(self, path: str, params: Any = None) -> Any:
        return self.body

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    "body",
    [{"message": "maintenance"}, "maintenance", None, {"snapshots": []}, [1, 2], 7],
    ids=["message-object", "string", "empty", "wrong-object", "list-of-numbers", "number"],
)
def test_snapshot_wrong_shape_is_a_typed_error_naming_the_endpoint(body: Any) -> None:
    """A 200 that is not a list of objects raises TransientError naming the endpoint, never []."""
    client = cast(IBClient, _CannedClient(body))
    with pytest.raises(TransientError) as info:
        snapshot(client, SnapshotInput(conids=[AAPL], fields=["last"]))
    assert "/iserver/marketdata/snapshot" in info.value.message and info.value.status == 200


def test_snapshot_values_are_typed_by_field_not_by_appearance() -> None:
    """Numeric fields lose prefixes/separators/K-M; text fields (symbol, company) stay strings."""
    row = {"conid": 1, "conidEx": "1", "_updated": 5, "55": "1", "7051": "3M", "6004": "0700",
           "31": "C1,234.50", "87": "1.2K", "88": "1,300", "84": "H12"}
    client = cast(IBClient, _CannedClient([row]))
    fields = ["symbol", "7051", "6004", "last", "volume", "bid_size", "bid"]
    (quote,) = output_json(snapshot(client, SnapshotInput(conids=[1], fields=fields)))["snapshots"]
    assert quote["symbol"] == "1" and quote["7051"] == "3M" and quote["6004"] == "0700"
    assert quote["last"] == 1234.5 and quote["last_is_prior_close"] is True
    assert quote["volume"] == 1200 and quote["bid_size"] == 1300 and quote["bid"] == 12
    assert quote["halted"] is True


def test_order_on_a_foreign_account_is_an_input_error_and_nothing_is_placed(sim_reset: Simulator) -> None:
    """place_order account_id=<not the credential's>: InputError on account_id, empty order book."""
    with pytest.raises(InputError) as info:
        act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
            order_type="MKT", account_id="DU0000000")
    assert info.value.field == "account_id" and ACCOUNTS["sim_oauth2"] in info.value.message
    assert sim_reset.orders() == []


@pytest.mark.parametrize(
    ("status", "body", "account", "invalid_input"),
    [
        (500, '{"error": "Invalid account: DU0", "statusCode": 500}', True, True),
        (400, '{"error": "accountId is not valid"}', True, True),  # IBKR on order endpoints
        (500, '{"error": "Invalid conid: 1", "statusCode": 500}', False, True),
        (500, '{"error": "Internal Server Error"}', False, False),  # a real 5xx stays retryable
        (503, '{"error": "Invalid account"}', False, False),
    ],
)
def test_refusals_tell_input_errors_from_server_trouble(
    status: int, body: str, account: bool, invalid_input: bool
) -> None:
    """Only IBKR's "not your account / unknown conid" answers skip the retry loop."""
    import requests

    from noetl_ib_plugin.client.refusals import is_invalid_account, is_invalid_input

    resp = requests.Response()
    resp.status_code = status
    resp._content = body.encode()
    assert is_invalid_account(resp) is account
    assert is_invalid_input(resp) is invalid_input


def test_unknown_conid_given_twice_is_reported_once(sim_reset: Simulator) -> None:
    """`conids=[1, 1]` beside a known symbol: one error entry for conid 1, no crash (corpus find)."""
    out = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL"], conids=[1, 1], fields=["last"])
    assert out["partial"] is True
    assert [e["conid"] for e in out["errors"]] == [1]
    assert [q["symbol"] for q in out["snapshots"]] == ["AAPL"]
