"""Accounts, summary and paged positions."""

from __future__ import annotations

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader


def test_accounts_endpoints(trader: Trader) -> None:
    """/iserver/accounts and /portfolio/accounts list the own account (selected) and the linked one."""
    acc = trader.get("/iserver/accounts").json()
    assert acc["accounts"] == ["DU1234567", "DU2345678"]
    assert acc["selectedAccount"] == "DU1234567"
    assert acc["isPaper"] is True
    port = trader.get("/portfolio/accounts").json()
    assert [(p["id"], p["currency"]) for p in port] == [("DU1234567", "USD"), ("DU2345678", "USD")]


def test_summary_shape(trader: Trader) -> None:
    """Summary entries carry amount/currency/isNull/severity/timestamp/value."""
    summary = trader.get("/portfolio/DU1234567/summary").json()
    for key in ("availablefunds", "netliquidation", "buyingpower", "totalcashvalue",
                "grosspositionvalue", "availablefunds-c", "netliquidation-s"):
        entry = summary[key]
        assert set(entry) == {"amount", "currency", "isNull", "severity", "timestamp", "value"}
        assert isinstance(entry["amount"], float)
    assert summary["totalcashvalue"]["amount"] == 1_000_000.0
    assert summary["accountcode"]["value"] == "DU1234567"


def test_wrong_account_is_500(trader: Trader) -> None:
    """Another account id is refused like IBKR (500 with an error)."""
    for path in ("/portfolio/DU9999999/summary", "/portfolio/DU7654321/positions/0"):
        resp = trader.get(path)
        assert resp.status_code == 500 and "error" in resp.json()


def test_positions_paging(trader1a: Trader) -> None:
    """123 positions come in pages of 100, 23, then an empty page."""
    pages = [trader1a.get(f"/portfolio/DU7654321/positions/{n}").json() for n in range(3)]
    assert [len(p) for p in pages] == [100, 23, 0]
    conids = [p["conid"] for page in pages for p in page]
    assert len(set(conids)) == 123
    item = pages[0][0]
    assert item["conid"] == 265598 and item["position"] == 100.0 and item["ticker"] == "AAPL"
    for key in ("contractDesc", "mktPrice", "mktValue", "currency", "avgCost", "avgPrice",
                "realizedPnl", "unrealizedPnl", "assetClass", "listingExchange"):
        assert key in item


def test_page_size_configurable(sim_keys: object) -> None:
    """positions_page_size makes small books page too."""
    from noetl_ib_plugin.simulator import SimKeys

    from .clients import OAuth2Client, load_private
    from .conftest import records

    assert isinstance(sim_keys, SimKeys)
    with Simulator(pacing=False, keys=sim_keys, positions_page_size=2, bulk_positions=0) as s:
        data = records(s)["sim_oauth2"]
        client = OAuth2Client(s.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        t = Trader(s.url, "DU1234567", bearer=client.bearer())
        sizes = [len(t.get(f"/portfolio/DU1234567/positions/{n}").json()) for n in range(3)]
        assert sizes == [2, 1, 0]
