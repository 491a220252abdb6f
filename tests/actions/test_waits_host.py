"""The wait actions get their StreamClient from the host (the composition root), never build one."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from noetl_ib_plugin.actions import BUILTIN_ACTIONS
from noetl_ib_plugin.client import IBClient
from noetl_ib_plugin.runner import default_host, run_action
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import StreamClient, StreamSettings
from tests.actions.test_waits_sim import quick_sim  # noqa: F401

AAPL = 265598
WAITS = Path(__file__).resolve().parents[2] / "noetl_ib_plugin" / "actions" / "waits.py"


def test_wait_price_streams_through_the_hosts_factory(quick_sim: Simulator) -> None:  # noqa: F811
    """run_action hands wait_price the host's stream factory bound to the step's client."""
    host = default_host()
    built: list[tuple[IBClient, StreamSettings | None]] = []
    original = host.stream

    def spy(client: IBClient, settings: StreamSettings | None = None) -> StreamClient:
        built.append((client, settings))
        return original(client, settings)

    host.stream = spy  # type: ignore[method-assign]
    try:
        quick_sim.set_price(AAPL, 190.0)
        threading.Timer(0.4, quick_sim.set_price, (AAPL, 196.0)).start()
        out = run_action("wait_price", "sim_oauth2", credentials_file=quick_sim.credentials_file,
                         host=host, conid=AAPL, condition="last >= 195", timeout=10)
    finally:
        del host.stream
    assert out["condition_met"] is True
    assert len(built) == 1
    client, settings = built[0]
    assert isinstance(client, IBClient) and settings is not None
    assert settings.open_timeout <= 10 and settings.max_failures == 3  # inside the step's timeout


def test_wait_actions_are_registered_as_streaming() -> None:
    """Only actions registered with streams=True receive open_stream; the waits are."""
    streaming = {a.name for a in BUILTIN_ACTIONS if a.streams}
    assert streaming == {"wait_order", "wait_price"}


def test_waits_module_never_constructs_a_stream_client() -> None:
    """actions/waits.py calls no StreamClient(...) constructor: the host is the one place."""
    tree = ast.parse(WAITS.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "StreamClient"]
    assert calls == []


def test_a_streaming_action_without_the_factory_is_a_type_error() -> None:
    """Calling wait_price directly without open_stream fails loudly (no hidden fallback)."""
    from noetl_ib_plugin.actions.waits import WaitPriceInput, wait_price

    with pytest.raises(TypeError, match="open_stream"):
        wait_price(None, WaitPriceInput(conid=AAPL, condition="last >= 1"))  # type: ignore[arg-type,call-arg]
