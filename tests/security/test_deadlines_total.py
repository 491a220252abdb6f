"""Every HTTP call has a total deadline, even against a server that drips bytes.

The servers below drip one byte every 3 s for 100 bytes (300 s); each call is bounded at 1 s
(plus retries), so the asserted bounds are generous and independent of machine speed: they
only prove the call did not wait for the drip to finish.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from noetl_ib_plugin import IBTokenProvider
from noetl_ib_plugin.auth import MemoryTokenCache
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.client.brokerage_state import BrokerageSession
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.errors import ConfigurationError, OutcomeUnknown, ResponseTooLarge, TransientError
from noetl_ib_plugin.transport import DeadlineExceeded, limited_session
from noetl_ib_plugin.transport import deadline as transport
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings
from tests.client.fakes import FakeProvider
from tests.security.hostile_server import (
    Hostile,
    drip_body,
    drip_headers,
    endless_body,
    hostile_server,
)

#: Seconds a dripping server would hold a call without the deadline.
DRIP_SECONDS = 300.0
#: Far below DRIP_SECONDS, far above the 1 s deadline: robust under heavy load.
BOUND = 60.0


@pytest.fixture
def body_drip() -> Iterator[Hostile]:
    """Headers at once (keep-alive), then one body byte every 3 s."""
    with hostile_server(lambda stop: drip_body(stop, every=3.0, total_bytes=100),
                        announce_close=False) as server:
        yield server


@pytest.fixture
def body_drip_closing() -> Iterator[Hostile]:
    """As `body_drip` with `Connection: close`, where http.client hands the socket to the answer."""
    with hostile_server(lambda stop: drip_body(stop, every=3.0, total_bytes=100)) as server:
        yield server


@pytest.fixture
def header_drip() -> Iterator[Hostile]:
    """A status line, then one header line every 3 s, never finishing the headers."""
    with hostile_server(lambda stop: drip_headers(stop, every=3.0, count=100)) as server:
        yield server


@pytest.mark.parametrize("server", ["body_drip", "body_drip_closing", "header_drip"])
def test_one_call_stops_at_its_total_deadline(server: str, request: pytest.FixtureRequest) -> None:
    """A drip in the body or in the headers ends in DeadlineExceeded, not after the drip."""
    drip: Hostile = request.getfixturevalue(server)
    http = limited_session(deadline=1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        http.get(drip.url + "/x", timeout=(5.0, 20.0))
    assert time.monotonic() - started < BOUND
    assert "total deadline of 1 s" in str(info.value)
    assert isinstance(info.value, requests.Timeout)  # the retry loop treats it as a timeout


def _front_door_deadline() -> float:
    """The total deadline a front door's host hands down, from this process's environment."""
    return Host(Settings.from_environ(os.environ)).http_deadline()


def test_token_endpoint_drip_is_bounded(
    body_drip: Hostile, rsa_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OAuth 2.0 token request: each attempt stops at the deadline; spent retries are typed."""
    monkeypatch.setenv("NOETL_IB_HTTP_DEADLINE", "1")
    data = {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
            "api_base_url": body_drip.url}
    policy = RetryPolicy(max_attempts=2, base_delay=0.0, sleep=lambda _s: None)
    provider = IBTokenProvider(data, cache=MemoryTokenCache(), retry_policy=policy,
                               deadline=_front_door_deadline())
    started = time.monotonic()
    with pytest.raises(TransientError) as info:
        provider.fetch_token()
    assert time.monotonic() - started < BOUND
    assert "DeadlineExceeded" in str(info.value)
    assert len(body_drip.hits) == 2


def test_order_post_past_its_deadline_is_unknown_not_refused(
    body_drip: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-idempotent call cut by the deadline is OutcomeUnknown and is not resent."""
    monkeypatch.setenv("NOETL_IB_HTTP_DEADLINE", "1")
    client = IBClient(FakeProvider(body_drip.url + "/v1/api"), pacer=Pacer.disabled(),
                      retry_policy=RetryPolicy(max_attempts=3, base_delay=0.0,
                                               sleep=lambda _s: None),
                      deadline=_front_door_deadline())
    # The paper guard already heard from IBKR in this process; only the order send is cut.
    manager = client.brokerage_manager
    manager.verified_session = BrokerageSession(["DU1234567"], "DU1234567", True)
    manager.verified_token = client.provider.current_token()
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        client.request("POST", "/iserver/account/DU1234567/orders", json={"orders": []},
                       bootstrap=False)
    assert time.monotonic() - started < BOUND
    assert len(body_drip.hits) == 1


def test_two_cli_processes_sharing_a_cache_exit_in_bound(
    body_drip: Hostile, rsa_pem: str, tmp_path: Path
) -> None:
    """Two `noetl-ib token` processes sharing a cache both exit typed, not hang, on a drip."""
    # The one waiting on the cache lock gets its turn once the first gives up.
    record = {"name": "drip", "type": "interactive_brokers_oauth",
              "data": {"client_id": "c", "key_id": "k", "private_key": rsa_pem,
                       "credential": "u", "api_base_url": body_drip.url}}
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps([record]))
    env = {**os.environ, "NOETL_IB_HTTP_DEADLINE": "1", "NOETL_IB_RETRY_MAX_RETRIES": "1",
           "NOETL_IB_CACHE_DIR": str(tmp_path / "shared-cache")}
    command = [sys.executable, "-m", "noetl_ib_plugin.cli", "token", "--credential", "drip",
               "--credentials-file", str(creds)]
    started = time.monotonic()
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    try:
        outputs = [p.communicate(timeout=DRIP_SECONDS / 2) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert time.monotonic() - started < 2 * BOUND
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode not in (0, None)
        assert "DeadlineExceeded" in err


def test_endless_answer_stops_at_the_byte_cap() -> None:
    """An answer that never ends is cut at max_bytes with a typed error."""
    with hostile_server(endless_body) as server:
        http = limited_session(deadline=60.0, max_bytes=256 * 1024)
        with pytest.raises(ResponseTooLarge) as info:
            http.get(server.url + "/big", timeout=(5.0, 20.0))
    assert "262144 bytes" in str(info.value)


def test_bad_deadline_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_IB_HTTP_DEADLINE must be a finite number of seconds in range; the error names it."""
    for value in ("nan", "inf", "0", "abc", "1e9"):
        monkeypatch.setenv("NOETL_IB_HTTP_DEADLINE", value)
        with pytest.raises(ConfigurationError) as info:
            _front_door_deadline()
        assert info.value.field == "NOETL_IB_HTTP_DEADLINE"


def test_a_finished_call_is_never_cut_later() -> None:
    """After a call finished (its connection may serve another call) the watchdog leaves it be."""
    left, right = socket.socketpair()
    with left, right:
        conn = SimpleNamespace(sock=left)
        finished = transport._Watch()
        finished.add(conn)
        finished.finish()
        finished.fire()
        assert not finished.fired
        right.sendall(b"x")
        assert left.recv(1) == b"x"  # still open
        running = transport._Watch()
        running.add(conn)
        running.fire()
        assert running.fired
        assert left.recv(1) == b""  # shut down: a blocked reader would wake with EOF


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_deadlines_work_in_a_forked_child(body_drip: Hostile) -> None:
    """A child forked after HTTP use still cuts a dripping call at its deadline."""
    parked = transport._Watch()
    transport._watchdog.arm(parked, 60.0)  # the parent's watchdog thread runs with an entry
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            limited_session(deadline=1.0).get(body_drip.url + "/child", timeout=(5.0, 20.0))
        except DeadlineExceeded:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    started = time.monotonic()
    while time.monotonic() - started < BOUND:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child did not stop at its deadline")
    parked.finish()
    assert os.waitstatus_to_exitcode(status) == 0
