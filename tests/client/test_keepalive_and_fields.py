"""Opt-in keepalive, the 429 hook feeding the pacer, dh_prime text forms, ip in the cache key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import responses

from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.client import Keepalive, Pacer
from noetl_ib_plugin.credentials.keys import load_dh_prime
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.lst import RFC3526_PRIME_HEX
from tests.fixtures.simulators import client_for

from .fakes import BASE, FakeClock, make_client


def test_keepalive_tickles_until_stopped(sim_reset: Simulator) -> None:
    """Started, it tickles on its timer; stopped, the thread ends and no tickle follows."""
    client = client_for(sim_reset, "sim_oauth2")
    keep = Keepalive(client, interval=0.02)
    with keep:
        deadline = time.monotonic() + 30
        while keep.tickles < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert keep.running
    assert not keep.running and keep.tickles >= 2 and keep.failures == 0
    count = sim_reset.stats()["requests_by_endpoint"]["POST /v1/api/tickle"]
    time.sleep(0.1)
    assert sim_reset.stats()["requests_by_endpoint"]["POST /v1/api/tickle"] == count


def test_keepalive_is_off_unless_started_and_survives_failures() -> None:
    """No thread before start(); a failing tickle is counted and logged, never raised."""
    client = make_client()
    keep = Keepalive(client, interval=0.01)
    assert not keep.running and Keepalive(client).interval == 60.0
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{BASE}/tickle", status=400, json={"error": "bad"})
        with keep:
            deadline = time.monotonic() + 30
            while keep.failures < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
    assert keep.failures >= 1 and not keep.running
    with pytest.raises(ValueError):
        Keepalive(client, interval=0)


@responses.activate
def test_429_fills_the_endpoint_window_before_the_retry() -> None:
    """A 429 makes the paced retry wait the endpoint's whole window (tickle: 1 s), not 0.1 s."""
    clock = FakeClock()
    client = make_client(clock=clock, pacer=Pacer(clock=clock, sleep=clock.sleep, margin=0,
                                                  slack=0))
    sent_at: list[float] = []

    def answer(status: int, body: str) -> Any:
        def callback(_request: Any) -> tuple[int, dict[str, str], str]:
            sent_at.append(clock.now)
            return status, {}, body
        return callback

    responses.add_callback(responses.POST, f"{BASE}/tickle",
                           callback=answer(429, '{"error": "too many"}'))
    responses.add_callback(responses.POST, f"{BASE}/tickle", callback=answer(200, '{"session": "x"}'))
    assert client.tickle() == {"session": "x"}
    assert len(sent_at) == 2 and sent_at[1] - sent_at[0] >= 1.0  # the whole tickle window
    assert client.transport.pacer.waited > 0.5  # the pacer, not the short retry backoff, did the waiting


def _wrapped(hex_text: str, eol: str) -> str:
    """The prime the way `openssl dhparam -text` prints it: 15 colon-separated bytes a line."""
    pairs = [hex_text[i:i + 2] for i in range(0, len(hex_text), 2)]
    lines = ["    " + ":".join(pairs[i:i + 15]) + ":" for i in range(0, len(pairs), 15)]
    return eol.join(lines)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r", " \t\n"])
def test_dh_prime_hex_block_with_any_whitespace(eol: str) -> None:
    """The hex block with LF, CRLF, CR or tab/space line ends parses to the same prime."""
    text = _wrapped("00" + RFC3526_PRIME_HEX.lower(), eol)
    assert load_dh_prime(text, "data.dh_prime")[0] == int(RFC3526_PRIME_HEX, 16)


def test_dh_prime_full_openssl_text_output() -> None:
    """The whole `openssl dhparam -text` output (header, prime:, generator:) parses too."""
    text = ("    DH Parameters: (2048 bit)\r\n        prime:\r\n"
            + _wrapped("00" + RFC3526_PRIME_HEX.lower(), "\r\n")
            + "\r\n        generator: 2 (0x2)\r\n")
    assert load_dh_prime(text, "data.dh_prime")[0] == int(RFC3526_PRIME_HEX, 16)


def _oauth2(sim_reset: Simulator, **extra: Any) -> IBTokenProvider:
    """A provider for the simulator's OAuth 2.0 record plus extra data fields."""
    data = dict(sim_reset.credentials[0]["data"], **extra)
    return IBTokenProvider(data, cache=MemoryTokenCache())


def test_ip_claim_and_service_are_part_of_the_cache_identity(sim_reset: Simulator) -> None:
    """ip, ip_claim and service change the cache key; the same values give the same key."""
    base = _oauth2(sim_reset, ip="203.0.113.7").cache_key
    assert _oauth2(sim_reset, ip="203.0.113.7").cache_key == base
    for extra in ({"ip": "203.0.113.8"}, {"ip": "203.0.113.7", "ip_claim": "userIp"},
                  {"ip": "203.0.113.7", "service": "AM.LOGIN"}, {}):
        assert _oauth2(sim_reset, **extra).cache_key != base, extra


def test_ip_claim_reaches_a_simulator_that_checks_it(sim_reset: Simulator, tmp_path: Path) -> None:
    """With check_ip on, the caller's own ip gets a session and another ip is refused naming the claim."""
    sim_reset.engine.auth.check_ip = True
    try:
        assert _oauth2(sim_reset, ip="127.0.0.1").fetch_token()
        with pytest.raises(Exception) as info:
            _oauth2(sim_reset, ip="203.0.113.7").fetch_token()
        assert "ip claim" in str(info.value)
    finally:
        sim_reset.engine.auth.check_ip = False
