"""IBKR's messages go through orjson; what it refuses but JSON readers take is not lost."""

from __future__ import annotations

from typing import Any, cast

from noetl_ib_plugin.streaming import ErrorEvent, OrderEvent, StreamClient


def _client() -> StreamClient:
    """A StreamClient fed by hand (no socket: `_handle` is what the reader calls per message)."""
    return StreamClient(cast(Any, None))


def test_an_order_update_with_nan_is_merged_not_skipped() -> None:
    """`sor` with a NaN (orjson refuses it, json reads it): the order's status is still merged."""
    stream = _client()
    stream._handle('{"topic":"sor","args":[{"orderId":123,"status":"Submitted","avgPrice":NaN}]}')
    order = stream.order(123)
    assert order is not None and order["status"] == "Submitted"
    event = stream.buffer.get(0)
    assert isinstance(event, OrderEvent) and event.order_id == 123


def test_a_frame_neither_parser_reads_is_reported_malformed() -> None:
    """A frame that is not JSON at all is one `malformed` error event, nothing else."""
    stream = _client()
    stream._handle('{"topic":"sor",')
    event = stream.buffer.get(0)
    assert isinstance(event, ErrorEvent) and event.kind == "malformed"
    assert stream.buffer.get(0) is None and stream.orders() == []


def test_json_null_is_skipped_quietly() -> None:
    """A frame of JSON `null` is no message: skipped without an error event, as before."""
    stream = _client()
    stream._handle("null")
    assert stream.buffer.get(0) is None
