"""`noetl-ib simulator ...`: run the simulator until SIGINT/SIGTERM, announcing itself on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .app import Simulator
from .faults import FaultPlan

__all__ = ["build_parser", "main"]

log = logging.getLogger("noetl_ib_plugin.simulator")


#: Longest --token-ttl: the plugin refuses tokens said to live longer (auth/bounds.py).
MAX_TOKEN_TTL = 31 * 86400.0


def _port(text: str) -> int:
    """A TCP port, or 0 for a free one."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give 0-65535, e.g. --port 5001 (0 picks a free one)")
    return port


def _seconds(low: float, high: float, *, low_open: bool, example: str) -> Any:
    """A finite number of seconds in [low, high] (or (low, high] with `low_open`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            span = f"{'more than' if low_open else 'at least'} {low:g} and at most {high:.0f}"
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds {span}, e.g. {example}")
        return value
    return parse


def _seed(text: str) -> int:
    """A whole number seeding prices and ids."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number, e.g. --seed 1 (the same seed replays a run)"
        ) from None


def _count(text: str) -> int:
    """A whole number of synthetic positions."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count from 0 to 100000, e.g. --bulk-positions 120")
    return value


def _lines(text: str) -> int:
    """A number of market data lines per account."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count from 1 to 10000, e.g. --ws-md-lines 100")
    return value


def _json_object(option: str, check: Any) -> Any:
    """A JSON object that `check(obj)` accepts (it raises ValueError/TypeError otherwise)."""
    sample = '{"http_500": 0.2}' if option == "--faults" else '{"enforce_coid_unique": false}'
    example = f"{option} '{sample}'"

    def parse(text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not valid JSON ({exc}), e.g. {example}") from None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f"must be a JSON object, e.g. {example}")
        try:
            check(value)
        except (ValueError, TypeError, KeyError) as exc:
            raise argparse.ArgumentTypeError(f"{exc} (see `noetl-ib simulator --help`)") from None
        return value
    return parse


def _state_dir(text: str) -> str:
    """A directory, created if missing; never an existing file."""
    path = Path(text).expanduser()
    advice = "give a directory you can write (created if missing), e.g. --state-dir ./ibsim-state"
    if not text.strip() or (path.exists() and not path.is_dir()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory: {advice}")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create {text!r} ({exc.strerror}): {advice}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable: {advice}")
    return text


def _host(text: str) -> str:
    """An address or host name without blanks or control characters."""
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an address to listen on, e.g. --host 127.0.0.1")
    return text


def _check_order_options(options: dict[str, Any]) -> None:
    Simulator(default_clients=False).set_order_options(**options)


def build_parser() -> argparse.ArgumentParser:
    """The simulator's command line; every value is checked here (a bad one exits 2 naming it)."""
    parser = argparse.ArgumentParser(
        prog="noetl-ib simulator",
        description="Run the IBKR Web API paper-broker simulator on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", type=_host,
                        help="address to listen on (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=_port, default=None,
                        help="port to listen on; 0 picks a free one; omitted: the port a "
                        "previous run with the same --state-dir was given, else a free one")
    parser.add_argument("--state-dir", default=None, type=_state_dir,
                        help="where credentials.json goes; keys, a given port, registered "
                        "clients and the order book are kept there across restarts")
    parser.add_argument("--faults", default=None, type=_json_object("--faults", FaultPlan.parse),
                        help="fault plan as JSON (see /__sim/faults)")
    parser.add_argument("--order-options", default=None,
                        type=_json_object("--order-options", _check_order_options),
                        help='order and account options as JSON, e.g. '
                             '\'{"enforce_coid_unique": false, "linked_accounts": 0}\' '
                             "(see /__sim/options)")
    parser.add_argument("--no-pacing", action="store_true", help="disable IBKR pacing limits")
    parser.add_argument("--bulk-positions", type=_count, default=0, metavar="N",
                        help="N synthetic ZZ0xx positions on the OAuth 1.0a account, for paging "
                        "tests and scale benches (default 0: a small, realistic book)")
    parser.add_argument("--seed", type=_seed, default=1,
                        help="seed for prices and ids: the same seed replays the same run")
    parser.add_argument("--token-ttl", default=86399.0,
                        type=_seconds(0.0, MAX_TOKEN_TTL, low_open=True, example="--token-ttl 3600"),
                        help="OAuth 2.0 access token lifetime in seconds (IBKR: 86399)")
    parser.add_argument("--bridge-warmup", default=1.0,
                        type=_seconds(0.0, 3600.0, low_open=False, example="--bridge-warmup 1"),
                        help="seconds /iserver/accounts answers {} after ssodh/init (IBKR: 1-5)")
    parser.add_argument("--penalty-seconds", default=600.0,
                        type=_seconds(0.0, 86400.0, low_open=False,
                                      example="--penalty-seconds 600"),
                        help="penalty box length for repeat pacing offenders (IBKR: 600; 0 off)")
    parser.add_argument("--ws-heartbeat", default=10.0,
                        type=_seconds(0.0, 3600.0, low_open=True, example="--ws-heartbeat 10"),
                        help="seconds between /v1/api/ws heartbeats (IBKR: about 10)")
    parser.add_argument("--ws-quote-interval", default=0.5,
                        type=_seconds(0.0, 3600.0, low_open=True,
                                      example="--ws-quote-interval 0.5"),
                        help="seconds between /v1/api/ws market data messages per "
                        "subscription (IBKR: about 0.5)")
    parser.add_argument("--ws-walk", action="store_true",
                        help="benchmarks: every /v1/api/ws market data message moves last/bid/ask")
    parser.add_argument("--ws-md-lines", default=100, type=_lines,
                        help="market data lines per account across its sockets (IBKR: 100 by "
                        "default); over it, smd is refused with an error")
    parser.add_argument("--ws-md-lifetime", default=600.0,
                        type=_seconds(0.0, 86400.0, low_open=True,
                                      example="--ws-md-lifetime 600"),
                        help="seconds a market data subscription streams before it ends unless "
                        "renewed by another smd (IBKR: about 10-15 minutes)")
    parser.add_argument("--register", action="append", default=[], metavar="FILE",
                        help="JSON file registering your own OAuth 2.0 client or OAuth 1.0a "
                        "consumer (the body of POST /__sim/clients); may repeat")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start, print one JSON line ({url, credentials_file, pid}), serve until a signal, exit 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s ibsim %(levelname)s %(message)s")
    faults = args.faults
    order_options = args.order_options or {}
    registrations = []
    for name in args.register:
        try:
            with open(name, encoding="utf-8") as handle:
                loaded = json.load(handle)
            registrations.extend(loaded if isinstance(loaded, list) else [loaded])
        except (OSError, ValueError) as exc:
            print(f"noetl-ib simulator: cannot read --register {name}: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        """Ask the main loop to shut down cleanly."""
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim = Simulator(host=args.host, port=args.port, state_dir=args.state_dir,
                    pacing=not args.no_pacing, seed=args.seed, token_ttl=args.token_ttl,
                    faults=faults, bridge_warmup=args.bridge_warmup,
                    penalty_seconds=args.penalty_seconds, bulk_positions=args.bulk_positions,
                    ws_heartbeat_s=args.ws_heartbeat, ws_quote_interval_s=args.ws_quote_interval)
    sim.set_order_options(**order_options)
    sim.stream.walk = bool(args.ws_walk)
    sim.stream.market_data_lines = args.ws_md_lines
    sim.stream.market_data_lifetime_s = args.ws_md_lifetime
    try:
        try:
            sim.start()
        except OSError as exc:
            print(f"noetl-ib simulator: error: argument --host/--port: cannot listen on "
                  f"{args.host}:{args.port or 0} ({exc.strerror or exc}); pick another, e.g. "
                  "--port 0 for a free one", file=sys.stderr)
            return 2
        for entry in registrations:
            try:
                sim.register(entry)
            except (TypeError, ValueError, KeyError) as exc:
                print(f"noetl-ib simulator: --register: {exc}", file=sys.stderr)
                return 2
        ready = {"url": sim.url, "credentials_file": str(sim.credentials_file), "pid": os.getpid()}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        log.info("listening on %s (pacing %s)", sim.url, "off" if args.no_pacing else "on")
        while not stop.wait(0.5):
            pass
        log.info("shutting down")
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
