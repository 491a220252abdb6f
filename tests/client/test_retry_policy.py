"""The retry timing and logging policy, in one retry loop."""

from __future__ import annotations

import logging
import os

import pytest
import responses

from noetl_ib_plugin.auth import http as auth_http
from noetl_ib_plugin.client import ib_client as client_session
from noetl_ib_plugin.client import trading_transport
from noetl_ib_plugin.common import backoff
from noetl_ib_plugin.common.backoff import RetryPolicy, retry_call
from noetl_ib_plugin.errors import ConfigurationError, TransientError
from tests.client.fakes import BASE, FakeClock, FakeProvider, make_client

RETRY_ENV = ("NOETL_IB_RETRY_MAX_RETRIES", "NOETL_IB_RETRY_BASE_DELAY",
             "NOETL_IB_RETRY_MAX_DELAY", "NOETL_IB_RETRY_MAX_TOTAL")


@pytest.fixture
def design_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The design defaults: none of the retry variables set (the suite scales them down)."""
    for name in RETRY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("design_env")
def test_default_policy_is_1_2_4_8_16_seconds_with_five_retries() -> None:
    """Nominal delays 1, 2, 4, 8, 16 s; jitter stays within ±10 %; 6 attempts in all."""
    mid = RetryPolicy(rand=lambda: 0.5)
    assert [mid.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    low, high = RetryPolicy(rand=lambda: 0.0), RetryPolicy(rand=lambda: 1.0)
    for n, nominal in enumerate([1.0, 2.0, 4.0, 8.0, 16.0], start=1):
        assert low.delay(n) == pytest.approx(0.9 * nominal)
        assert high.delay(n) == pytest.approx(1.1 * nominal)
    assert mid.max_attempts == 6


@pytest.mark.usefixtures("design_env")
def test_spent_retries_wait_about_31_seconds_and_log_warning_then_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server failing every time: 6 attempts, ~31 s of waits, 5 WARNINGs then one ERROR."""
    clock = FakeClock()
    policy = RetryPolicy(sleep=clock.sleep, rand=lambda: 0.5)

    class Answer:
        status_code = 503
        headers: dict[str, str] = {}

        def close(self) -> None:
            """Nothing to release."""

    caplog.set_level(logging.DEBUG, logger="noetl_ib_plugin")
    result = retry_call(Answer, policy=policy, what="GET /x", retry_on=(OSError,), clock=clock)
    assert result.count == 6 and result.spent
    assert sum(clock.sleeps) == pytest.approx(31.0)
    levels = [r.levelno for r in caplog.records if r.name == "noetl_ib_plugin.common.backoff"]
    assert levels == [logging.WARNING] * 5 + [logging.ERROR]


@pytest.mark.usefixtures("design_env")
def test_retry_after_is_honoured_and_bounded() -> None:
    """Retry-After beats a shorter backoff, and is capped at max_retry_after."""
    policy = RetryPolicy(base_delay=1.0, rand=lambda: 0.5, max_retry_after=60.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(5, retry_after=3.0) == 16.0
    assert policy.delay(1, retry_after=3600.0) == 60.0
    assert backoff.parse_retry_after("nan") is None and backoff.parse_retry_after("inf") is None


@pytest.mark.usefixtures("design_env")
def test_policy_is_configurable_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NOETL_IB_RETRY_* variables set the defaults; a bad value names its variable."""
    monkeypatch.setenv("NOETL_IB_RETRY_MAX_RETRIES", "2")
    monkeypatch.setenv("NOETL_IB_RETRY_BASE_DELAY", "0.5")
    policy = RetryPolicy.from_environ(os.environ, rand=lambda: 0.5)
    assert policy.max_attempts == 3 and policy.delay(2) == 1.0
    for value in ("-1", "nan", "x", "11"):
        monkeypatch.setenv("NOETL_IB_RETRY_MAX_RETRIES", value)
        with pytest.raises(ConfigurationError) as info:
            RetryPolicy.from_environ(os.environ)
        assert info.value.field == "NOETL_IB_RETRY_MAX_RETRIES"


def test_one_retry_loop_and_one_status_set() -> None:
    """auth/http.py and the trading transport both use backoff.retry_call and its status set."""
    assert vars(auth_http)["retry_call"] is backoff.retry_call
    assert vars(trading_transport)["retry_call"] is backoff.retry_call
    assert vars(trading_transport)["RETRYABLE_STATUS"] is backoff.RETRYABLE_STATUS
    assert not hasattr(auth_http, "RETRYABLE_STATUS")


@responses.activate
def test_client_logs_requests_at_debug_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG logs every request and answer with origin and path only; no token, no query."""
    caplog.set_level(logging.DEBUG, logger="noetl_ib_plugin")
    responses.add(responses.GET, f"{BASE}/iserver/marketdata/snapshot", json=[])
    provider = FakeProvider()
    make_client(provider).get("/iserver/marketdata/snapshot", params={"conids": "265598"},
                              bootstrap=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "noetl_ib_plugin.transport"]
    assert len(lines) == 2 and all(r.levelno == logging.DEBUG for r in caplog.records
                                   if r.name == "noetl_ib_plugin.transport")
    assert "/iserver/marketdata/snapshot" in lines[0] and "-> 200" in lines[1]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "tok1" not in text and "conids" not in text


@responses.activate
def test_order_placement_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """Placing an order logs its path and IBKR's order id and status at INFO."""
    caplog.set_level(logging.INFO, logger="noetl_ib_plugin")
    # The trading guard asks IBKR before any order path is sent, even without bootstrap.
    responses.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init", json={"authenticated": True})
    responses.add(responses.GET, f"{BASE}/iserver/accounts",
                  json={"accounts": ["DU1234567"], "isPaper": True})
    responses.add(responses.POST, f"{BASE}/iserver/account/DU1234567/orders",
                  json=[{"order_id": "1370093239", "order_status": "PreSubmitted"}])
    make_client().post("/iserver/account/DU1234567/orders", json={"orders": []},
                       bootstrap=False)
    info = [r.getMessage() for r in caplog.records
            if r.levelno == logging.INFO and r.name == "noetl_ib_plugin.client.ib_client"]
    assert info == ["order request /iserver/account/DU1234567/orders answered HTTP 200: "
                    "order 1370093239 PreSubmitted"]


@responses.activate
def test_client_retries_log_warning_and_error_when_spent(caplog: pytest.LogCaptureFixture) -> None:
    """Each 5xx retry of a GET is a WARNING; giving up is one ERROR and a TransientError."""
    caplog.set_level(logging.INFO, logger="noetl_ib_plugin")
    responses.add(responses.GET, f"{BASE}/tickle", status=503, json={"error": "busy"})
    with pytest.raises(TransientError):
        make_client().get("/tickle", bootstrap=False)
    retries = [r for r in caplog.records if r.name == "noetl_ib_plugin.common.backoff"]
    assert [r.levelno for r in retries] == [logging.WARNING] * 3 + [logging.ERROR]


def test_order_outcome_text_never_fails_on_odd_answers() -> None:
    """The INFO summary of an order answer copes with any JSON shape IBKR might send."""
    outcome = vars(client_session)["_order_outcome"]
    assert outcome([{"id": "q1", "messageIds": ["o163", "p12"]}]) == "question o163,p12"
    assert outcome({"error": "We cannot accept an order"}) == (
        "rejected (We cannot accept an order)")
    for odd in (None, 7, "text", [], [1, None], [{"messageIds": 5}], {"order_id": None}):
        assert isinstance(outcome(odd), str)
