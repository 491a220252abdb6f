"""A bot's natural retry loop (`except TransientError: retry`, `except BrokerError: give up`) lets
an unknown outcome through to the caller: it is never resent and never read as a refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.errors import (
    BrokerError,
    OrderUnconfirmed,
    OutcomeUnknown,
    OutcomeUnknownError,
    TransientError,
)
from noetl_ib_plugin.simulator import Simulator

CRED = "sim_oauth1a"
ACCOUNT = "DU7654321"


def _bot_loop(call: Callable[[], Any]) -> tuple[int, str]:
    """Up to three attempts: retry on TransientError, stop on BrokerError; (attempts, how it ended)."""
    for attempt in range(1, 4):
        try:
            call()
        except TransientError:
            continue
        except BrokerError:
            return attempt, "refused"
        return attempt, "done"
    return 3, "gave up"


def test_an_order_of_unknown_outcome_escapes_the_loop_after_one_attempt(
    sim_reset: Simulator,
) -> None:
    """Every placement answered 500: OrderUnconfirmed reaches the bot once, no loop resends it."""
    sim_reset.set_faults({"http_500": 1.0, "methods": ["POST"],
                          "paths": [f"/v1/api/iserver/account/{ACCOUNT}/orders"]})
    attempts: list[int] = []
    with TradingClient(CRED, credentials_file=sim_reset.credentials_file) as ib:

        def place() -> Any:
            attempts.append(1)
            return ib.place_order(order_type="MKT", symbol="AAPL", side="BUY", quantity=1,
                                  client_order_id="bot-1")

        with pytest.raises(OutcomeUnknownError) as info:
            _bot_loop(place)
    assert len(attempts) == 1
    assert type(info.value) is OrderUnconfirmed and info.value.client_order_id == "bot-1"


def test_a_lost_cancel_answer_escapes_the_loop_and_the_cli_exits_6(sim_reset: Simulator) -> None:
    """A DELETE whose answer is lost: OutcomeUnknown passes both handlers; `noetl-ib run` exits 6."""
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["DELETE"]})
    with (TradingClient(CRED, credentials_file=sim_reset.credentials_file) as ib,
          pytest.raises(OutcomeUnknown)):
        _bot_loop(lambda: ib.cancel_order("987654321"))
    code = cli_main(["run", "cancel_order", "--credential", CRED, "--credentials-file",
                     str(sim_reset.credentials_file), "order_id=987654321"])
    assert code == 6
