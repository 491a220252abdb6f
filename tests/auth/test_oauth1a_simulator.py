"""LiveSessionTokenProvider round trip against the loopback simulator (real signature checks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from noetl_ib_plugin.auth import FileTokenCache
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.credentials.models import OAuth1aData
from noetl_ib_plugin.credentials.records import parse_record

simulator = pytest.importorskip("noetl_ib_plugin.simulator")
if not hasattr(simulator, "Simulator"):  # the package exists before its entry point does
    pytest.skip("noetl_ib_plugin.simulator.Simulator is not available yet", allow_module_level=True)


@pytest.fixture(scope="module")
def sim_oauth1a_server() -> Iterator[Any]:
    """One simulator for the module (no bridge warm-up): key generation is the slow part."""
    with simulator.Simulator(pacing=False, bridge_warmup=0) as running:
        yield running


def oauth1a_data(sim_oauth1a_server: Any) -> OAuth1aData:
    """The `sim_oauth1a` record from the simulator's credentials.json."""
    records = json.loads(Path(sim_oauth1a_server.credentials_file).read_text())["credentials"]
    raw = next(r for r in records if r["name"] == "sim_oauth1a")
    data = parse_record(raw).data
    assert isinstance(data, OAuth1aData)
    return data


def signed(
    provider: LiveSessionTokenProvider,
    session: requests.Session,
    url: str,
    method: str = "GET",
    body: dict[str, Any] | None = None,
) -> int:
    """Status of one request signed by the provider (a JSON body is not signed)."""
    headers: dict[str, str] = {}
    provider.authorize(method, url, headers)
    return session.request(method, url, headers=headers, json=body, timeout=10).status_code


def test_simulator_round_trip(sim_oauth1a_server: Any, tmp_path: Path) -> None:
    """The simulator grants an LST and accepts signed POST and GETs, with and without a query."""
    session = requests.Session()
    provider = LiveSessionTokenProvider(
        oauth1a_data(sim_oauth1a_server), cache=FileTokenCache(tmp_path), session=session
    )
    before = sim_oauth1a_server.stats()
    token = provider.current_token()
    assert token.expires_at > token.obtained_at
    base = provider.trading_base_url
    init = {"publish": True, "compete": True}
    assert signed(provider, session, f"{base}/iserver/auth/ssodh/init", "POST", init) == 200
    assert signed(provider, session, f"{base}/iserver/accounts") == 200
    assert signed(provider, session, f"{base}/iserver/account/orders?filters=filled,x%20y") == 200
    after = sim_oauth1a_server.stats()
    assert after["lst_requests"] - before.get("lst_requests", 0) == 1
    assert after.get("auth_failures", 0) == before.get("auth_failures", 0)


def test_simulator_rejects_wrong_signature(sim_oauth1a_server: Any, tmp_path: Path) -> None:
    """A tampered HMAC signature (or one made with a stale LST) gets 401 from the simulator."""
    session = requests.Session()
    provider = LiveSessionTokenProvider(
        oauth1a_data(sim_oauth1a_server), cache=FileTokenCache(tmp_path), session=session
    )
    url = f"{provider.trading_base_url}/iserver/accounts"
    headers: dict[str, str] = {}
    provider.authorize("GET", url, headers)
    headers["Authorization"] = headers["Authorization"].replace(
        'oauth_signature="', 'oauth_signature="AAAA'
    )
    before = sim_oauth1a_server.stats().get("auth_failures", 0)
    assert session.get(url, headers=headers, timeout=10).status_code == 401
    assert sim_oauth1a_server.stats()["auth_failures"] == before + 1
