"""IBTokenProvider against the embedded simulator: one token and one SSO session per lifetime."""

from __future__ import annotations

from noetl_ib_plugin import IBTokenProvider, load_credential
from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator


class _Clock:
    """A hand-moved clock shared by the simulator and the provider."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _provider(sim: Simulator, clock: _Clock) -> IBTokenProvider:
    record = load_credential("sim_oauth2", sim.credentials_file)
    return IBTokenProvider(record, cache=MemoryTokenCache(), clock=clock)


def test_short_tokens_cost_one_token_and_one_sso_request_per_lifetime() -> None:
    """10 s tokens over 31 s: 4 token requests and 4 SSO sessions, not a refresh loop."""
    clock = _Clock()
    with running_simulator(pacing=False, token_ttl=10, clock=clock) as sim:
        provider = _provider(sim, clock)
        for _ in range(310):  # every 100 ms for 31 s
            provider.fetch_token()
            clock.now += 0.1
        stats = sim.stats()
    assert stats["oauth2_token_requests"] == 4
    assert stats["sso_session_requests"] == 4


def test_bearer_is_accepted_by_the_trading_api() -> None:
    """The SSO bearer opens a brokerage session on the simulator (real JWT verification)."""
    import requests

    clock = _Clock()
    with running_simulator(pacing=False, clock=clock) as sim:
        provider = _provider(sim, clock)
        headers: dict[str, str] = {}
        provider.authorize("POST", provider.trading_base_url + "/iserver/auth/ssodh/init", headers)
        resp = requests.post(
            provider.trading_base_url + "/iserver/auth/ssodh/init",
            json={"publish": True, "compete": True},
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 200 and resp.json()["authenticated"] is True
        assert sim.stats()["auth_failures"] == 0
