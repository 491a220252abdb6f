"""The name lookup is inside every network call's deadline: a resolver that never answers
cannot hold a WebSocket connect or a REST call past it (transport/dns.py).

The hanging resolver is injected (the `resolver` argument of `connect`, `DeadlineAdapter`,
`lookup`); nothing patches `socket` for the process. It blocks until the test ends, then
returns, so no thread outlives the test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests

from noetl_ib_plugin.client import Pacer
from noetl_ib_plugin.client.trading_transport import TradingTransport
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.errors import IBPluginError, OutcomeUnknownError, TransientError
from noetl_ib_plugin.streaming.connection import connect
from noetl_ib_plugin.transport import DeadlineAdapter, DeadlineExceeded, dns
from noetl_ib_plugin.transport.dns import AddrInfo, lookup, open_connection
from tests.client.fakes import FakeProvider

#: Slack over a deadline on a loaded 2-core machine: a thread wake-up, not a second lookup.
SLACK = 1.5
SECRET = "tok3n-must-not-leak"


class HangingResolver:
    """getaddrinfo's shape; every call blocks until `release` (set when the test ends)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, family: int, kind: int) -> Sequence[AddrInfo]:
        self.calls.append(host)
        self.release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "released by the test")


@pytest.fixture
def hanging() -> Iterator[HangingResolver]:
    """A resolver that never answers while the test runs."""
    resolver = HangingResolver()
    yield resolver
    resolver.release.set()


def _elapsed(call: Any, *args: Any, **kwargs: Any) -> tuple[BaseException, float]:
    """The exception `call` raised and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        call(*args, **kwargs)
    return info.value, time.monotonic() - started


def test_stream_connect_gives_up_on_a_hanging_lookup(hanging: HangingResolver) -> None:
    """connect() raises TimeoutError naming the host within open_timeout; no token in it."""
    url = f"wss://gw.sim.invalid/v1/api/ws?oauth_token={SECRET}"
    error, took = _elapsed(connect, url, open_timeout=0.5, resolver=hanging)
    assert isinstance(error, TimeoutError) and took < 0.5 + SLACK
    assert "gw.sim.invalid" in str(error)
    assert SECRET not in str(error) and "oauth_token" not in str(error)
    assert hanging.calls == ["gw.sim.invalid"]


def test_rest_call_gives_up_on_a_hanging_lookup(hanging: HangingResolver) -> None:
    """A DeadlineAdapter call whose lookup hangs is DeadlineExceeded within its deadline."""
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(deadline=0.5, resolver=hanging, max_retries=0))
    with session:
        error, took = _elapsed(session.get, f"http://api.sim.invalid:5000/v1?oauth_token={SECRET}")
    assert isinstance(error, DeadlineExceeded) and took < 0.5 + SLACK
    assert SECRET not in str(error)
    assert hanging.calls == ["api.sim.invalid"]


def test_the_connect_timeout_bounds_the_lookup_too(hanging: HangingResolver) -> None:
    """timeout=(0.3, ...) under a 30 s deadline: the lookup ends with the connect timeout."""
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(deadline=30.0, resolver=hanging, max_retries=0))
    with session:
        error, took = _elapsed(session.get, "http://slow.sim.invalid/", timeout=(0.3, 5))
    assert isinstance(error, requests.ConnectTimeout) and took < 0.3 + SLACK
    assert "slow.sim.invalid" in str(error)


def test_lookups_of_one_name_share_one_resolver_call(hanging: HangingResolver) -> None:
    """Three timed-out lookups of the same name start one resolver thread, not three."""
    for _ in range(3):
        with pytest.raises(TimeoutError, match=r"same\.sim\.invalid"):
            lookup("same.sim.invalid", 443, 0.05, resolver=hanging)
    assert hanging.calls == ["same.sim.invalid"]


def test_an_ip_literal_needs_no_resolver(hanging: HangingResolver) -> None:
    """127.0.0.1 connects at once although the resolver would hang (it is never asked)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with open_connection("127.0.0.1", port, 5.0, resolver=hanging) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)
    assert hanging.calls == []


def test_a_resolver_answer_is_used() -> None:
    """A name the resolver answers with loopback connects there (the answer is not ignored)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def loopback(host: str, port: int, family: int, kind: int) -> Sequence[AddrInfo]:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        with open_connection("ibkr.sim.invalid", port, 5.0, resolver=loopback) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)


def test_an_order_whose_lookup_outlives_the_deadline_is_known_not_sent(
        hanging: HangingResolver) -> None:
    """POST orders whose lookup hangs past the deadline was never sent: not OutcomeUnknown."""
    session = requests.Session()
    session.mount("https://", DeadlineAdapter(deadline=0.3, resolver=hanging, max_retries=0))
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, max_total=10.0,
                         rand=lambda: 1.0)
    transport = TradingTransport(FakeProvider("https://api.sim.invalid/v1/api"), session,
                                 pacer=Pacer.disabled(), retry_policy=policy,
                                 timeout=(5.0, 30.0), clock=time.monotonic)
    with session, pytest.raises(IBPluginError) as info:
        transport.send("POST", "/iserver/account/DU1110001/orders", None, {"orders": []}, False)
    assert not isinstance(info.value, OutcomeUnknownError), info.value
    assert isinstance(info.value, TransientError)


class _NoThreads:
    """dns.py's `threading` for a process at its thread limit: Thread.start() fails."""

    Event = threading.Event
    Lock = threading.Lock

    class Thread:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> None:
            raise RuntimeError("can't start new thread")


def test_a_lookup_thread_that_cannot_start_leaves_no_lookup_behind(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread for a lookup once: that call fails, and the next lookup of the name runs."""
    def loopback(host: str, port: int, family: int, kind: int) -> Sequence[AddrInfo]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(dns, "threading", _NoThreads)
    with pytest.raises(RuntimeError):
        lookup("limit.sim.invalid", 443, 1.0, resolver=loopback)
    monkeypatch.undo()
    answers = lookup("limit.sim.invalid", 443, 5.0, resolver=loopback)
    assert answers[0][4] == ("127.0.0.1", 443)
