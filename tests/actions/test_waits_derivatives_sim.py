"""wait_price on an option or a future named by its parts: the stream is subscribed to the
resolved contract's own conid, the output names it, and a missing part is refused before any
subscription (issue 21).

Oracles are the simulator's literal conids (simulator/derivatives.py) and its market data lines
(which conids a socket subscribed), never the resolution code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from noetl_ib_plugin.client import IBClient
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import ContractMismatch, InputError
from noetl_ib_plugin.runner import default_host, run_action
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID, ES_MAR30_CONID
from noetl_ib_plugin.streaming import StreamClient, StreamSettings
from tests.actions.test_waits_sim import quick_sim  # noqa: F401
from tests.cli.helpers import cli, one_json, process_env
from tests.fixtures.simulators import act

CRED = "sim_oauth2"
AAPL_JAN30_200C = {"symbol": "AAPL", "sec_type": "OPT", "expiry": "20300118", "strike": 200,
                   "right": "C"}


def _when_subscribed(sim: Simulator, conid: int, then: Callable[[], None]) -> threading.Thread:
    """Run `then` once a socket holds a market data line for `conid` (10 s at most)."""

    def watch() -> None:
        deadline = time.monotonic() + 10.0
        while conid not in sim.stream.lines.conids() and time.monotonic() < deadline:
            time.sleep(0.01)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


class Recording:
    """A host whose stream factory records every stream it opens."""

    def __init__(self) -> None:
        self.host = default_host()
        self.opened: list[StreamSettings | None] = []
        original = self.host.stream

        def spy(client: IBClient, settings: StreamSettings | None = None) -> StreamClient:
            self.opened.append(settings)
            return original(client, settings)

        self.host.stream = spy  # type: ignore[method-assign]

    def run(self, sim: Simulator, **args: Any) -> dict[str, Any]:
        """wait_price through run_action with this host."""
        return run_action("wait_price", CRED, credentials_file=sim.credentials_file,
                          host=self.host, **args)


@pytest.fixture
def recording(quick_sim: Simulator) -> Iterator[Recording]:  # noqa: F811
    """A recording host for one test (its spy removed after)."""
    rec = Recording()
    yield rec
    del rec.host.stream


def test_option_by_parts_waits_on_the_options_conid(quick_sim: Simulator,  # noqa: F811
                                                    recording: Recording) -> None:
    """AAPL 20300118 200 C by parts streams the option's conid and returns its 12.0 quote."""
    # `last >= 11` already holds for the underlying (about 190): only the option's own quote,
    # moved from 10 to 12 once its line is held, may meet it.
    quick_sim.set_price(AAPL_OPTION_CONID, 10.0)
    _when_subscribed(quick_sim, AAPL_OPTION_CONID,
                     lambda: quick_sim.set_price(AAPL_OPTION_CONID, 12.0))
    out = recording.run(quick_sim, **AAPL_JAN30_200C, condition="last >= 11", timeout=10)
    assert out["condition_met"] is True and out["quote"]["last"] == 12.0
    assert out["conid"] == AAPL_OPTION_CONID
    assert (out["symbol"], out["sec_type"], out["expiry"], out["month"], out["strike"],
            out["right"], out["multiplier"]) == ("AAPL", "OPT", "20300118", "JAN30", 200.0, "C",
                                                 100.0)
    assert len(recording.opened) == 1


def test_future_by_month_waits_on_that_months_conid(quick_sim: Simulator) -> None:  # noqa: F811
    """ES FUT month=MAR30 streams conid 750000001 (not the index at 5200, not JUN30)."""
    quick_sim.set_price(ES_MAR30_CONID, 5100.0)
    _when_subscribed(quick_sim, ES_MAR30_CONID,
                     lambda: quick_sim.set_price(ES_MAR30_CONID, 4990.0))
    out = act(quick_sim, CRED, "wait_price", symbol="ES", sec_type="FUT", month="2030-03",
              condition="last <= 5000", timeout=10)
    assert out["condition_met"] is True and out["quote"]["last"] == 4990.0
    assert out["conid"] == ES_MAR30_CONID
    assert (out["sec_type"], out["month"], out["multiplier"]) == ("FUT", "MAR30", 50.0)


@pytest.mark.parametrize("missing", ["strike", "right", "expiry"])
def test_a_missing_part_is_refused_before_any_subscription(
        quick_sim: Simulator, recording: Recording, missing: str) -> None:  # noqa: F811
    """An option without its strike, right or month: place_order's InputError, no stream."""
    args = {k: v for k, v in AAPL_JAN30_200C.items() if k != missing}
    with pytest.raises(InputError) as waited:
        recording.run(quick_sim, **args, condition="last >= 1", timeout=5)
    with pytest.raises(InputError) as ordered:
        act(quick_sim, CRED, "place_order", **args, side="BUY", quantity=1, order_type="MKT")
    error = waited.value
    assert error.field == ("month" if missing == "expiry" else missing)
    assert (error.field, error.fix) == (ordered.value.field, ordered.value.fix)
    assert str(error.fix).startswith(f"pass {error.field}=")
    assert recording.opened == []
    assert quick_sim.stats()["requests_by_endpoint"].get(
        "GET /v1/api/iserver/secdef/search", 0) == 0


def test_a_derivative_by_symbol_alone_names_its_parts(quick_sim: Simulator,  # noqa: F811
                                                      recording: Recording) -> None:
    """sec_type=OPT with a symbol and no parts: refused naming month, strike and right."""
    with pytest.raises(ContractMismatch) as info:
        recording.run(quick_sim, symbol="AAPL", sec_type="OPT", condition="last >= 1", timeout=5)
    assert info.value.field == "sec_type"
    assert "month=JAN30 strike=200 right=C" in str(info.value.fix)
    assert recording.opened == []


def test_parts_without_a_derivative_type_are_refused(quick_sim: Simulator) -> None:  # noqa: F811
    """strike without sec_type=OPT is an input error whose fix names sec_type=OPT."""
    with pytest.raises(InputError, match="sec_type=OPT"):
        act(quick_sim, CRED, "wait_price", symbol="AAPL", strike=200, condition="last >= 1",
            timeout=5)


def test_option_by_parts_through_the_cli(quick_sim: Simulator) -> None:  # noqa: F811
    """`noetl-ib run wait_price symbol=AAPL sec_type=OPT expiry=... strike=200 right=C ...`."""
    words = [f"{k}={v}" for k, v in AAPL_JAN30_200C.items()]
    run = cli("run", "wait_price", "--credential", "sim_oauth1a", *words,
              "condition=last >= 0.01", "timeout=10",
              env={**process_env(), "NOETL_IB_CREDENTIALS": str(quick_sim.credentials_file)})
    assert run.returncode == 0, run.stderr
    out = one_json(run.stdout)
    assert out["conid"] == AAPL_OPTION_CONID and out["condition_met"] is True
    assert (out["sec_type"], out["strike"], out["right"]) == ("OPT", 200.0, "C")


def test_future_by_month_through_main(quick_sim: Simulator,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`entry.main("wait_price", sec_type="FUT", month=...)` answers the future's conid."""
    monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(quick_sim.credentials_file))
    out = main("wait_price", credential=CRED, symbol="ES", sec_type="FUT", month="MAR30",
               condition="last >= 1", timeout=10)
    assert out["conid"] == ES_MAR30_CONID and out["condition_met"] is True


@pytest.mark.parametrize("asked", [{"exchange": "LSE"}, {"currency": "GBP"}])
def test_a_conid_with_an_exchange_or_currency_it_lacks_is_refused(
        quick_sim: Simulator, recording: Recording, asked: dict[str, str]) -> None:  # noqa: F811
    """conid=AAPL's with exchange=LSE (or currency=GBP): ContractMismatch as place_order, no stream."""
    with pytest.raises(InputError) as waited:
        recording.run(quick_sim, conid=265598, **asked, condition="last >= 1", timeout=5)
    with pytest.raises(InputError) as ordered:
        act(quick_sim, CRED, "place_order", conid=265598, **asked, side="BUY", quantity=1,
            order_type="MKT")
    assert waited.value.field == ordered.value.field
    assert recording.opened == []
