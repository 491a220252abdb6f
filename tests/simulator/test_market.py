"""Contract search, contract info and market data snapshots."""

from __future__ import annotations

import re

from noetl_ib_plugin.simulator.market import CONTRACTS, Market

from .clients import Trader


def test_search_aapl(trader: Trader) -> None:
    """AAPL search returns conid as a string, primary exchange in description, sections."""
    res = trader.get("/iserver/secdef/search", params={"symbol": "AAPL", "secType": "STK"}).json()
    assert len(res) == 1
    assert res[0]["conid"] == "265598" and res[0]["description"] == "NASDAQ"
    assert {"secType": "STK"} in res[0]["sections"]


def test_search_bhp_is_ambiguous(trader: Trader) -> None:
    """BHP is listed on NYSE (USD) and ASX (AUD) under different conids."""
    res = trader.get("/iserver/secdef/search", params={"symbol": "BHP"}).json()
    assert {(r["description"], r["conid"]) for r in res} == {("NYSE", "4036812"),
                                                            ("ASX", "4036818")}
    info = trader.get("/iserver/contract/4036818/info").json()
    assert (info["symbol"], info["exchange"], info["currency"]) == ("BHP", "ASX", "AUD")
    assert trader.get("/iserver/secdef/search", params={"symbol": "NOPE"}).json() == []


def test_snapshot_preflight_then_fields(trader: Trader) -> None:
    """Pre-flight is conid/conidEx only; prices come next, the book one poll later (stages)."""
    params = {"conids": "265598,8314", "fields": "31,84,86,87,88,85,55,7295,70,71,7741,82,83,6509"}
    first = trader.get("/iserver/marketdata/snapshot", params=params).json()
    assert first == [{"conid": 265598, "conidEx": "265598"}, {"conid": 8314, "conidEx": "8314"}]
    second = trader.get("/iserver/marketdata/snapshot", params=params).json()
    early = second[0]
    assert early["55"] == "AAPL" and isinstance(early["31"], str) and "_updated" in early
    assert not {"84", "86", "85", "88", "87"} & set(early)  # the book arrives on a later poll
    aapl = trader.get("/iserver/marketdata/snapshot", params=params).json()[0]
    assert aapl["55"] == "AAPL" and aapl["6509"] == "RpB" and "_updated" in aapl
    for field in ("31", "84", "86", "87", "88", "85", "7295", "70", "71", "7741", "82", "83"):
        assert isinstance(aapl[field], str), field
    assert re.fullmatch(r"\d+\.\d+[KM]|\d+", aapl["87"])
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", aapl["88"])
    assert float(aapl["84"]) < float(aapl["86"])


def test_snapshot_prefixes_and_no_data(trader: Trader) -> None:
    """ASX BHP shows C (no trade yet), SIVB shows H (halted), VOD has no market data."""
    params = {"conids": "4036818,459530,13109", "fields": "31,6509"}
    trader.get("/iserver/marketdata/snapshot", params=params)
    asx, halted, vod = trader.get("/iserver/marketdata/snapshot", params=params).json()
    assert asx["31"].startswith("C") and halted["31"].startswith("H")
    assert "31" not in vod and vod["6509"] == "N"


def test_snapshot_unknown_conid_stays_bare(trader: Trader) -> None:
    """An unknown conid answers conid/conidEx only on every poll; its contract info is a 500."""
    params = {"conids": "1", "fields": "31,84"}
    for _ in range(3):
        assert trader.get("/iserver/marketdata/snapshot", params=params).json() == [
            {"conid": 1, "conidEx": "1"}
        ]
    info = trader.get("/iserver/contract/1/info")
    assert info.status_code == 500 and "Invalid conid" in info.text


def test_snapshot_stages_can_be_relaxed() -> None:
    """With `staged = False` the first data poll carries every field (for unit tests)."""
    market = Market(7, lambda: 1_700_000_000.0, dict(CONTRACTS))
    first = market.staged_snapshot_fields("s1", 265598)
    assert "84" not in first and "31" in first
    assert "84" in market.staged_snapshot_fields("s1", 265598)
    assert "84" not in market.staged_snapshot_fields("s2", 265598)  # stages are per session
    market.staged = False
    assert "84" in market.staged_snapshot_fields("s3", 265598)


def test_prices_are_deterministic() -> None:
    """The price path is a function of seed, conid and time."""
    a = Market(7, lambda: 1_700_000_000.0, dict(CONTRACTS))
    b = Market(7, lambda: 1_700_000_000.0, dict(CONTRACTS))
    c = Market(8, lambda: 1_700_000_000.0, dict(CONTRACTS))
    assert a.price(265598) == b.price(265598) != c.price(265598)
    assert a.price(265598, 1_700_000_000.0) != a.price(265598, 1_700_000_500.0)
    assert a.snapshot_fields(8314) == b.snapshot_fields(8314)
