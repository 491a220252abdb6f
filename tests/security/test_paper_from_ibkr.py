"""Issue 25 input 1: paper or live comes from IBKR in the process that trades, never from state
a NoETL keychain (or any token cache) holds; a hostile keychain cannot poison the host's files."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.errors import LiveTradingRefused
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, process_env
from tests.e2e.noetl_server import NoetlServer

LIVE = "U3330001"
OTHER = "DU9999999"
ORDER = ["symbol=AAPL", "side=BUY", "quantity=1", "order_type=LMT", "limit_price=99.0"]
#: What the hostile server writes into every token entry it hands out.
LIE: dict[str, Any] = {"accounts": [OTHER, LIVE], "selected_account": OTHER, "is_paper": True,
                       "flags": ["orders_primed"]}


class PaperLiar(NoetlServer):
    """The stand-in NoETL server, except that every token entry it answers says "paper"."""

    def _keychain(self, method: str, catalog: int, name: str, query: dict[str, list[str]],
                  body: Any) -> tuple[int, Any]:
        status, out = super()._keychain(method, catalog, name, query, body)
        data = out.get("data") if isinstance(out, dict) else None
        if method == "GET" and isinstance(data, dict) and isinstance(data.get("entry"), dict):
            data = copy.deepcopy(data)
            data["entry"].setdefault("state", {})["brokerage"] = {**LIE, "opened_at": time.time()}
            out = {**out, "data": data}
        return status, out


@pytest.fixture
def liar() -> Iterator[PaperLiar]:
    """A hostile NoETL keychain on loopback."""
    server = PaperLiar()
    server.start()
    yield server
    server.stop()


def _public(rsa_key: Any) -> str:
    return str(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def _live_record(sim: Simulator, rsa_key: Any, rsa_pem: str) -> dict[str, Any]:
    """A record for a live account at the simulator (isPaper false), saying nothing about live."""
    sim.register_oauth2_client("LIVECLIENT", "live-key", _public(rsa_key), "liveuser", LIVE)
    sim.set_paper_status(LIVE, False)
    sim.link_accounts(LIVE)  # a login holding this one live account only
    return {"name": "ib_live", "type": "interactive_brokers_oauth",
            "data": {"client_id": "LIVECLIENT", "key_id": "live-key", "private_key": rsa_pem,
                     "credential": "liveuser", "api_base_url": sim.url}}


def _cache_files_text() -> str:
    """Every token cache file of this host, concatenated."""
    directory = Path(os.environ["NOETL_IB_CACHE_DIR"])
    return "".join(p.read_text() for p in sorted(directory.glob("*.json")))


def test_rewritten_is_paper_cannot_trade_a_live_account(
    sim_reset: Simulator, liar: PaperLiar, rsa_key: Any, rsa_pem: str, tmp_path: Path
) -> None:
    """Live at IBKR + a keychain saying paper: every step is refused (exit 2), no order, no poison."""
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps([_live_record(sim_reset, rsa_key, rsa_pem)]))
    creds.chmod(0o600)
    env = process_env(NOETL_SERVER_URL=liar.url, NOETL_IB_KEYCHAIN_CATALOG_ID="42",
                      NOETL_IB_PACING="off")
    outcomes = []
    for _ in range(3):  # fresh processes, as playbook steps run
        done = cli("run", "place_order", "-c", "ib_live", "--credentials-file", str(creds), *ORDER,
                   env=env)
        outcomes.append((done.returncode, json.loads(done.stderr.splitlines()[-1])["error"]["type"]))
    assert outcomes == [(2, "LiveTradingRefused")] * 3
    assert liar.calls["GET keychain"] >= 2  # the later steps did read the lie
    assert sim_reset.stats()["orders_accepted"] == 0
    assert sim_reset.orders() == []
    text = _cache_files_text()
    assert text and "is_paper" not in text and OTHER not in text and "orders_primed" not in text


def _client(sim: Simulator, liar: PaperLiar, record: dict[str, Any], tmp_path: Path) -> IBClient:
    """A fresh client whose token cache is the hostile keychain over a host directory."""
    cache = KeychainTokenCache(liar.url, "42", FileTokenCache(tmp_path / "host"))
    provider = IBTokenProvider(parse_record(record), cache=cache)
    return IBClient(provider, pacer=Pacer.disabled())


def test_every_account_fact_comes_from_ibkr_not_the_keychain(
    sim_reset: Simulator, liar: PaperLiar, rsa_key: Any, rsa_pem: str, tmp_path: Path
) -> None:
    """Accounts, selected account and isPaper read by a second client are IBKR's, not the lie."""
    record = _live_record(sim_reset, rsa_key, rsa_pem)
    _client(sim_reset, liar, record, tmp_path).brokerage()  # opens and shares the session
    second = _client(sim_reset, liar, record, tmp_path)
    assert second.brokerage().accounts == []  # the reused hint carries no account facts...
    assert second.account_id == LIVE  # ...but the facts are IBKR's
    assert second.listed_accounts() == [LIVE]
    assert second.is_paper() is False
    with pytest.raises(LiveTradingRefused):
        second.ensure_trading_allowed(OTHER)
    with pytest.raises(LiveTradingRefused):
        second.post(f"/iserver/account/{LIVE}/orders", json={"orders": []})  # a bot's own post
    assert sim_reset.stats()["orders_accepted"] == 0


def test_a_rewritten_host_cache_file_does_not_make_live_paper(
    sim_reset: Simulator, rsa_key: Any, rsa_pem: str, tmp_path: Path
) -> None:
    """The host's own cache file saying paper (any writer) is not believed either: IBKR decides."""
    record = _live_record(sim_reset, rsa_key, rsa_pem)
    host = FileTokenCache(tmp_path / "host")
    first = IBClient(IBTokenProvider(parse_record(record), cache=host), pacer=Pacer.disabled())
    first.brokerage()
    (path,) = (tmp_path / "host").glob("*.json")
    entry = json.loads(path.read_text())
    entry["state"]["brokerage"].update(LIE)
    path.write_text(json.dumps(entry))
    second = IBClient(IBTokenProvider(parse_record(record), cache=host), pacer=Pacer.disabled())
    assert second.brokerage().is_paper is True  # the file says so...
    assert second.is_paper(LIVE) is False  # ...IBKR does not
    assert second.account_id == LIVE
    with pytest.raises(LiveTradingRefused):
        second.ensure_trading_allowed()


@pytest.mark.parametrize(("account", "is_paper"), [("DU3330002", False), ("U3330003", True)])
def test_accounts_reports_paper_as_the_guard_decides(
    sim_reset: Simulator, rsa_key: Any, rsa_pem: str, account: str, is_paper: bool
) -> None:
    """`accounts`' paper flag is IBKR's isPaper (the guard's rule), whatever the id's prefix."""
    record = _live_record(sim_reset, rsa_key, rsa_pem)
    sim_reset.register_oauth2_client("LIVECLIENT", "live-key", _public(rsa_key), "liveuser",
                                     account)
    sim_reset.set_paper_status(account, is_paper)
    sim_reset.link_accounts(account)  # a login holding this one account only
    listed = run_action("accounts", record)["accounts"]
    assert [(a["account_id"], a["paper"]) for a in listed] == [(account, is_paper)]
    client = IBClient(IBTokenProvider(parse_record(record)), pacer=Pacer.disabled())
    assert client.is_paper(account) is is_paper
