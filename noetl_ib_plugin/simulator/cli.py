"""`noetl-ib simulator ...`: run the simulator until SIGINT/SIGTERM, announcing itself on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .app import Simulator

__all__ = ["build_parser", "main"]

log = logging.getLogger("noetl_ib_plugin.simulator")


def build_parser() -> argparse.ArgumentParser:
    """The simulator's command line."""
    parser = argparse.ArgumentParser(
        prog="noetl-ib simulator",
        description="Run the IBKR Web API paper-broker simulator on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to listen on; 0 picks a free one; omitted: the port a "
                        "previous run with the same --state-dir was given, else a free one")
    parser.add_argument("--state-dir", default=None,
                        help="where credentials.json goes; keys, a given port, registered "
                        "clients and the order book are kept there across restarts")
    parser.add_argument("--faults", default=None, help="fault plan as JSON (see /__sim/faults)")
    parser.add_argument("--order-options", default=None,
                        help='order options as JSON, e.g. \'{"enforce_coid_unique": false}\' '
                             "(see /__sim/options)")
    parser.add_argument("--no-pacing", action="store_true", help="disable IBKR pacing limits")
    parser.add_argument("--bulk-positions", type=int, default=0, metavar="N",
                        help="N synthetic ZZ0xx positions on the OAuth 1.0a account, for paging "
                        "tests and scale benches (default 0: a small, realistic book)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed for prices and ids: the same seed replays the same run")
    parser.add_argument("--token-ttl", type=float, default=86399.0,
                        help="OAuth 2.0 access token lifetime in seconds (IBKR: 86399)")
    parser.add_argument("--bridge-warmup", type=float, default=1.0,
                        help="seconds /iserver/accounts answers {} after ssodh/init (IBKR: 1-5)")
    parser.add_argument("--penalty-seconds", type=float, default=600.0,
                        help="penalty box length for repeat pacing offenders (IBKR: 600; 0 off)")
    parser.add_argument("--register", action="append", default=[], metavar="FILE",
                        help="JSON file registering your own OAuth 2.0 client or OAuth 1.0a "
                        "consumer (the body of POST /__sim/clients); may repeat")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start, print one JSON line ({url, credentials_file, pid}), serve until a signal, exit 0."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s ibsim %(levelname)s %(message)s")
    try:
        faults = json.loads(args.faults) if args.faults else None
        if faults is not None and not isinstance(faults, dict):
            raise ValueError("--faults must be a JSON object")
    except ValueError as exc:
        print(f"noetl-ib simulator: invalid --faults: {exc}", file=sys.stderr)
        return 2
    registrations = []
    for name in args.register:
        try:
            with open(name, encoding="utf-8") as handle:
                loaded = json.load(handle)
            registrations.extend(loaded if isinstance(loaded, list) else [loaded])
        except (OSError, ValueError) as exc:
            print(f"noetl-ib simulator: cannot read --register {name}: {exc}", file=sys.stderr)
            return 2
    try:
        order_options = json.loads(args.order_options) if args.order_options else {}
        if not isinstance(order_options, dict):
            raise ValueError("--order-options must be a JSON object")
        Simulator(default_clients=False).set_order_options(**order_options)
    except ValueError as exc:
        print(f"noetl-ib simulator: invalid --order-options: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        """Ask the main loop to shut down cleanly."""
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim = Simulator(host=args.host, port=args.port, state_dir=args.state_dir,
                    pacing=not args.no_pacing, seed=args.seed, token_ttl=args.token_ttl,
                    faults=faults, bridge_warmup=args.bridge_warmup,
                    penalty_seconds=args.penalty_seconds, bulk_positions=args.bulk_positions)
    sim.set_order_options(**order_options)
    try:
        sim.start()
        for entry in registrations:
            try:
                sim.register(entry)
            except (TypeError, ValueError) as exc:
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
