"""Issue 25 audit: every field a NoETL keychain hands back, as a hostile server would write it.

Each field is either checked (a bad value is a miss) or only a hint IBKR re-checks; none decides
which account trades or whether it is paper (those are in test_paper_from_ibkr.py).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache, hints_only
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.errors import LiveTradingRefused
from noetl_ib_plugin.runner import default_host, load_credential
from noetl_ib_plugin.simulator import Simulator
from tests.e2e.noetl_server import NoetlServer

from .test_paper_from_ibkr import LIVE, _live_record

KEY = "0123456789abcdef0123456789abcdef"


class TokenSwapper(NoetlServer):
    """Answers every token fetch with the entry stored under `source` (another credential's)."""

    source: str | None = None

    def _keychain(self, method: str, catalog: int, name: str, query: dict[str, list[str]],
                  body: Any) -> tuple[int, Any]:
        if method == "GET" and self.source and name != f"noetl-ib-{self.source}":
            status, out = super()._keychain(method, catalog, f"noetl-ib-{self.source}", query,
                                            body)
            if isinstance(out.get("data"), dict):
                out = {**out, "data": {**copy.deepcopy(out["data"]),
                                       "key": name.removeprefix("noetl-ib-")}}
            return status, out
        return super()._keychain(method, catalog, name, query, body)


@pytest.fixture
def swapper() -> Iterator[TokenSwapper]:
    """A hostile NoETL keychain that hands one credential's token to another."""
    server = TokenSwapper()
    server.start()
    yield server
    server.stop()


def _client(record: Any, server: NoetlServer, host: Path) -> IBClient:
    cache = KeychainTokenCache(server.url, "42", FileTokenCache(host))
    return IBClient(IBTokenProvider(record, cache=cache), pacer=Pacer.disabled())


def test_another_credentials_token_cannot_place_for_the_paper_record(
    sim_reset: Simulator, swapper: TokenSwapper, rsa_key: Any, rsa_pem: str, tmp_path: Path
) -> None:
    """entry.value swapped for a live credential's bearer: the paper record's order is refused."""
    live = parse_record(_live_record(sim_reset, rsa_key, rsa_pem))
    live_client = _client(live, swapper, tmp_path / "live-host")
    live_client.brokerage()  # the live credential's token is now in the keychain
    swapper.source = live_client.provider.cache_key
    paper = load_credential("sim_oauth2", sim_reset.credentials_file, host=default_host())
    victim = _client(paper, swapper, tmp_path / "paper-host")
    assert victim.provider.current_token().value == live_client.provider.current_token().value
    with pytest.raises(LiveTradingRefused):  # its DU account is not one the live token lists
        victim.ensure_trading_allowed()
    with pytest.raises(LiveTradingRefused):
        victim.ensure_trading_allowed(LIVE)  # and the live account is live at IBKR
    assert sim_reset.stats()["orders_accepted"] == 0


@pytest.mark.parametrize("extra", [
    {"access_token": "a", "access_expires_at": time.time() + 3600, "access_obtained_at": [1]},
    {"access_token": "a", "access_expires_at": "soon", "access_obtained_at": 1},
    {"access_token": ["a"], "access_expires_at": time.time() + 3600},
])
def test_garbage_access_token_fields_are_not_a_crash(
    sim_reset: Simulator, tmp_path: Path, extra: dict[str, Any]
) -> None:
    """entry.extra's access token fields of the wrong type: a new token is fetched, no crash."""
    record = load_credential("sim_oauth2", sim_reset.credentials_file, host=default_host())
    host = FileTokenCache(tmp_path / "host")
    provider = IBTokenProvider(record, cache=host)
    now = time.time()
    host.store(provider.cache_key, {"value": "stale", "expires_at": now - 10,
                                    "obtained_at": now - 100, "scheme": "oauth2", "extra": extra})
    assert provider.current_token().value != "stale"


@pytest.mark.parametrize(("state", "kept"), [
    ({"brokerage": {"opened_at": 1000.0, "accounts": ["U1"], "selected_account": "U1",
                    "is_paper": True, "flags": ["orders_primed"]}},
     {"brokerage": {"opened_at": 1000.0}}),
    ({"brokerage": {"opened_at": 9e9}}, None),  # stamped in the future: dropped
    ({"brokerage": {"opened_at": "1000"}, "portfolio": {"session_opened_at": 999.0}},
     {"brokerage": {"opened_at": 1000.0}, "portfolio": {"session_opened_at": 999.0}}),
    ({"brokerage": {"opened_at": float("nan")}, "other": {"x": 1}}, None),
    ({"brokerage": ["opened_at"]}, None),
])
def test_only_opening_times_cross_the_keychain(state: dict[str, Any], kept: Any) -> None:
    """state: accounts, selected account, is_paper, flags and unknown names never cross."""
    entry = {"value": "t", "expires_at": 2000.0, "obtained_at": 1000.0, "scheme": "oauth2",
             "state": state}
    shared = hints_only(entry, now=1500.0)
    assert shared.get("state") == kept
    assert {k: v for k, v in shared.items() if k != "state"} == {
        k: v for k, v in entry.items() if k != "state"}


def test_shared_entry_never_reaches_the_keychain_with_account_facts(tmp_path: Path) -> None:
    """What this host posts carries the opening time only: the server learns no account ids."""
    server = NoetlServer(clock=lambda: 1500.0)
    server.start()
    try:
        cache = KeychainTokenCache(server.url, "42", FileTokenCache(tmp_path / "h"),
                                   clock=lambda: 1500.0)
        cache.store(KEY, {"value": "t", "expires_at": 2000.0, "obtained_at": 1000.0,
                          "scheme": "oauth2", "extra": {},
                          "state": {"brokerage": {"opened_at": 1400.0, "accounts": ["DU1"],
                                                  "is_paper": True}}})
    finally:
        server.stop()
    posted = json.dumps(server.keychain_posts)
    assert "DU1" not in posted and "is_paper" not in posted and '"opened_at": 1400.0' in posted
    # the host's own file keeps the whole entry
    assert json.loads((tmp_path / "h" / f"{KEY}.json").read_text())["state"]["brokerage"][
        "accounts"] == ["DU1"]
