"""`noetl-ib stream TOPIC`: IBKR's WebSocket as JSON lines (one event per line, flushed).

Topics: `quotes` (symbols=AAPL,MSFT and/or conids=265598; fields=last,bid,ask), `orders`,
`trades`, `pnl`, `summary` and `ledger` (account=DU1234567, default the credential's account;
keys=NetLiquidation). Ends at --max-events N, after --duration S, or on SIGINT/SIGTERM (exit 0,
the socket closed cleanly); a stream that cannot go on exits with its error's code, as `run`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from ..errors import UsageError
from ._run import collect_args, tell_waits

__all__ = ["TOPICS", "add_stream_parser", "cmd_stream"]

#: Topic -> the event topics it prints (errors and resyncs always).
TOPICS = {"quotes": "quote", "orders": "order", "trades": "trade", "pnl": "pnl",
          "summary": "summary", "ledger": "ledger"}
#: Arguments each topic takes.
_ARGS = {"quotes": {"symbols", "conids", "fields"}, "summary": {"account", "keys"},
         "ledger": {"account", "keys"}}
_ALWAYS = ("error", "resynced")


def add_stream_parser(sub: Any, parser_class: type[argparse.ArgumentParser],
                      verbose: Any, credential_options: Any) -> None:
    """The `stream` sub-command."""
    stream = sub.add_parser(
        "stream", help="stream quotes, orders, trades, pnl, summary or ledger as JSON lines (IBKR's "
        "WebSocket)",
        description="Print one JSON object per event, flushed per line, until --max-events, "
        "--duration or SIGINT/SIGTERM. quotes: symbols=AAPL,MSFT conids=265598 "
        "fields=last,bid,ask; summary, ledger: account=DU1234567 keys=NetLiquidation.")
    stream.add_argument("topic", choices=sorted(TOPICS), metavar="TOPIC",
                        help="quotes, orders, trades, pnl, summary or ledger")
    stream.add_argument("params", nargs="*", metavar="key=value",
                        help="quotes: symbols=, conids=, fields=; summary, ledger: account=, "
                        "keys=")
    credential_options(stream)
    stream.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    stream.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    verbose(stream)


def _words(value: Any) -> list[str]:
    """`AAPL,MSFT`, `["AAPL"]` or a number as a list of words."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [w for w in str(value).split(",") if w.strip()]


def _conid(word: str) -> int:
    """One `conids=` word as IBKR's contract id (a positive whole number)."""
    word = word.strip()
    if not word.isdigit() or not 0 < int(word) < 2**31:
        raise UsageError(f"conids: {word[:20]!r} is not an IBKR contract id; write digits, e.g. "
                         "conids=265598 (or symbols=AAPL)", field="conids")
    return int(word)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM end the stream cleanly (main thread only; elsewhere they do not)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def cmd_stream(ns: argparse.Namespace, out: TextIO) -> int:
    """Open the stream for the credential, print its events on `out`, close it cleanly."""
    if ns.max_events is not None and ns.max_events < 1:
        raise UsageError("--max-events must be at least 1", field="max_events")
    if ns.duration is not None and not ns.duration > 0:
        raise UsageError("--duration must be a positive number of seconds", field="duration")
    args = collect_args(None, list(ns.params or []))
    takes = _ARGS.get(ns.topic, set())
    unknown = set(args) - takes
    if unknown:
        raise UsageError(f"{ns.topic}: unknown argument {sorted(unknown)[0]!r}"
                            + (f" ({ns.topic} takes {', '.join(f'{a}=' for a in sorted(takes))})"
                               if takes else " (it takes none)"),
                            field=sorted(unknown)[0])
    from ..actions.contracts import resolve_contract
    from ..runner import default_host, get_client, resolve_credential
    from ..streaming import DEFAULT_QUOTE_FIELDS, StreamClosed

    host = default_host()
    record = resolve_credential(ns.credential, ns.credentials_file, host=host)
    client = get_client(record, host=host, progress=tell_waits)
    stream = host.stream(client)
    wanted = (TOPICS[ns.topic], *_ALWAYS)
    if ns.topic == "quotes":
        conids = [_conid(c) for c in _words(args.get("conids", ""))]
        conids += [resolve_contract(client, symbol=s).conid for s in _words(args.get("symbols", ""))]
        if not conids:
            raise UsageError("quotes needs symbols=AAPL or conids=265598", field="symbols")
        fields = _words(args["fields"]) if "fields" in args else list(DEFAULT_QUOTE_FIELDS)
        stream.subscribe_quotes(conids, fields)
    elif ns.topic in ("summary", "ledger"):
        stream.subscribe_account(ns.topic, str(args.get("account") or client.account_id),
                                 _words(args.get("keys", "")))
    else:
        stream.subscribe(ns.topic)
    stop = threading.Event()
    count = 0
    ends = time.monotonic() + ns.duration if ns.duration else None
    with _stop_on_signals(stop):
        try:
            stream.start()
            while not stop.is_set():
                if ns.max_events is not None and count >= ns.max_events:
                    break
                left = None if ends is None else ends - time.monotonic()
                if left is not None and left <= 0:
                    break
                try:
                    event = stream.get(0.25 if left is None else min(0.25, left))
                except StreamClosed:
                    if stream.error is not None:
                        raise stream.error from None
                    break
                if event is None or event.topic not in wanted:
                    continue
                out.write(event.model_dump_json() + "\n")
                out.flush()
                count += 1
        finally:
            stream.close()
    sys.stderr.write(f"noetl-ib: stream {ns.topic} ended after {count} event(s)\n")
    sys.stderr.flush()
    return 0
