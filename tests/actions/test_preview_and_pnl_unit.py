"""Reading IBKR's what-if and partitioned-P&L answers: documented shapes, odd ones, other accounts.

Answers are written out as IBKR's reference shows them (Web API "Preview Order / WhatIf" and
"Account Profit and Loss"); expected numbers are typed in, not computed by the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.actions.order_preview import read_preview
from noetl_ib_plugin.actions.pnl import pnl_row
from noetl_ib_plugin.errors import BrokerError, OrderRejected, TransientError

WHATIF = "/iserver/account/DU1234567/orders/whatif"

IBKR_WHATIF: dict[str, Any] = {
    "amount": {"amount": "23,000.50 USD (100 Shares)", "commission": "1.07 USD",
               "total": "23,001.57 USD"},
    "equity": {"current": "1,000,000", "change": "-1.07", "after": "999,998.93"},
    "initial": {"current": "12,500.25", "change": "5,750", "after": "18,250.25"},
    "maintenance": {"current": "11,000", "change": "5,175", "after": "16,175"},
    "position": {"current": "0", "change": "100", "after": "100"},
    "warn": "21/You are trying to submit an order without having market data for this "
            "instrument.",
    "error": None,
}


def test_documented_answer_reads_as_numbers_with_currency() -> None:
    """Separators, currency and the '(100 Shares)' note are read; every figure is a float."""
    out = read_preview(IBKR_WHATIF, WHATIF)
    assert (out["amount"], out["commission"], out["total"], out["currency"]) == (
        23000.5, 1.07, 23001.57, "USD")
    assert out["equity"] == {"current": 1000000.0, "change": -1.07, "after": 999998.93}
    assert out["initial_margin"] == {"current": 12500.25, "change": 5750.0, "after": 18250.25}
    assert out["maintenance_margin"] == {"current": 11000.0, "change": 5175.0, "after": 16175.0}
    assert out["position"] == {"current": 0.0, "change": 100.0, "after": 100.0}
    assert out["warnings"] == [IBKR_WHATIF["warn"]]
    assert all(isinstance(v, float) for v in out["equity"].values())


def test_a_list_wrapped_answer_and_json_numbers_are_read() -> None:
    """`[{...}]` and figures sent as JSON numbers give the same floats."""
    body = [{"amount": {"amount": 100, "commission": 1, "total": 101},
             "equity": {"current": 5000, "change": -1, "after": 4999}, "warn": None,
             "error": None}]
    out = read_preview(body, WHATIF)
    assert (out["amount"], out["commission"], out["total"]) == (100.0, 1.0, 101.0)
    assert out["equity"]["after"] == 4999.0 and out["warnings"] == []
    assert out["initial_margin"] == {"current": None, "change": None, "after": None}


@pytest.mark.parametrize("text", ["1.00 - 1.05 USD", "N/A", "", "1,00x USD", "1 2 USD"])
def test_a_figure_that_is_not_one_number_is_null_and_kept_as_text(text: str) -> None:
    """A commission range or junk is null (never its first number); the text stays in `texts`."""
    body = {**IBKR_WHATIF, "amount": {**IBKR_WHATIF["amount"], "commission": text}}
    out = read_preview(body, WHATIF)
    assert out["commission"] is None and out["texts"]["amount"]["commission"] == text
    assert out["amount"] == 23000.5


def test_an_error_in_the_answer_is_order_rejected() -> None:
    """IBKR's `error` text (with or without figures) means the order would be rejected."""
    for body in ({"error": "Order price exceeds available funds"},
                 {**IBKR_WHATIF, "error": "Order price exceeds available funds"}):
        with pytest.raises(OrderRejected) as info:
            read_preview(body, WHATIF)
        assert "available funds" in str(info.value) and "nothing was placed" in str(info.value)


def test_a_question_answer_lists_ids_and_texts() -> None:
    """A question list becomes question_ids and warnings; no figures are made up."""
    body = [{"id": "07a13a5a-4a48-44a5-bb25-5ab37b79186c",
             "message": ["The following order ... price exceeds the Percentage constraint of "
                         "3%. Are you sure you want to submit this order?"],
             "isSuppressed": False, "messageIds": ["o163"]}]
    out = read_preview(body, WHATIF)
    assert out["question_ids"] == ["o163"] and "Percentage constraint" in out["warnings"][0]
    assert "amount" not in out and "commission" not in out


@pytest.mark.parametrize("body", [None, "maintenance", [], [1, 2], {"message": "hello"}, {}])
def test_an_answer_that_is_no_preview_is_transient(body: Any) -> None:
    """Junk is never read as an empty preview: TransientError naming the endpoint."""
    with pytest.raises(TransientError) as info:
        read_preview(body, WHATIF)
    assert WHATIF in str(info.value) and "nothing was placed" in str(info.value.fix)


ROW = {"rowType": 1, "dpl": 15.7, "nl": 10000.0, "upl": 607.0, "uel": 9000.0, "el": 9000.0,
       "mv": 0.0}


def test_pnl_row_is_the_core_row_of_the_account_asked_for() -> None:
    """Of several accounts' rows, only `<account>.Core` is read."""
    body = {"upnl": {"DU1111111.Core": {**ROW, "dpl": -1.0}, "DU1234567.Core": ROW}}
    assert pnl_row(body, "DU1234567") == ROW


@pytest.mark.parametrize("key", ["DU7654321.Core", "DU12345678.Core", "DU123456.Core",
                                 "DU1234567.Other"])
def test_another_accounts_row_is_never_ours(key: str) -> None:
    """A row of another account (or a look-alike key) raises; its figures are not shown."""
    with pytest.raises(BrokerError) as info:
        pnl_row({"upnl": {key: {**ROW, "dpl": 4242.42}}}, "DU1234567")
    assert "another account" in str(info.value) and "4242" not in str(info.value)
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize("body", [{"upnl": {}}, {}, {"upnl": []}, [], "x"])
def test_no_rows_is_transient_not_zero(body: Any) -> None:
    """An answer without rows is no P&L (TransientError), never zeros."""
    with pytest.raises(TransientError):
        pnl_row(body, "DU1234567")


def test_ibkr_error_answer_is_a_broker_error() -> None:
    """IBKR's `{"error": ...}` from the P&L endpoint carries its text."""
    with pytest.raises(BrokerError) as info:
        pnl_row({"error": "Please query /accounts first"}, "DU1234567")
    assert "query /accounts first" in str(info.value)
