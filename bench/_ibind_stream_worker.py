"""Runs inside ibind 0.2.2's venv: its IbkrWsClient consumes AAPL market data for N seconds.

Argument: one JSON object {credentials_file, seconds}. Prints one JSON line: messages (callbacks)
and the simulator's sends in the window, CPU seconds of this process, latency percentiles (ms,
from the message's `_updated` to the callback, when ibind passes it on). Imports only ibind and
the standard library.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from typing import Any


def _sent(root: str) -> int:
    """WebSocket messages the simulator has sent so far."""
    with urllib.request.urlopen(f"{root}/__sim/stats", timeout=10) as answer:
        return int(json.load(answer).get("ws_messages", 0))


def main() -> None:
    """Connect, subscribe, count, report."""
    from ibind import CallbackSink, IbkrClient, IbkrWsClient  # type: ignore[import-not-found,unused-ignore]
    from ibind.events import MarketData  # type: ignore[import-not-found,unused-ignore]
    from ibind.oauth.oauth1a import OAuth1aConfig  # type: ignore[import-not-found,unused-ignore]
    from ibind.subscriptions import MarketDataSubscription  # type: ignore[import-not-found,unused-ignore]

    cfg: dict[str, Any] = json.loads(sys.argv[1])
    with open(cfg["credentials_file"], encoding="utf-8") as handle:
        data = next(r for r in json.load(handle)["credentials"]
                    if r["name"] == "sim_oauth1a")["data"]
    base = data["api_base_url"] + "/v1/api/"
    config = OAuth1aConfig(
        oauth_rest_url=base, access_token=data["access_token"],
        access_token_secret=data["access_token_secret"], consumer_key=data["consumer_key"],
        dh_prime=data["dh_prime"], encryption_key=data["encryption_key"],
        signature_key=data["signature_key"], dh_generator=str(data["dh_generator"]),
        realm=data["realm"], init_oauth=True, init_brokerage_session=True,
        maintain_oauth=False, shutdown_oauth=False)
    client = IbkrClient(account_id=data["account_id"], use_oauth=True, oauth_config=config,
                        auto_register_shutdown=False, timeout=10)
    latencies: list[float] = []
    count = [0]

    def on_quote(event: Any) -> None:
        count[0] += 1
        updated = event.data.get("_updated")  # ibind 0.2.2 renames fields and drops this one
        if updated:
            latencies.append(time.time() * 1000 - float(updated))

    sink = CallbackSink()
    sink.on(MarketData, on_quote)
    ws = IbkrWsClient(account_id=data["account_id"], url=base.replace("http://", "ws://") + "ws",
                      ibkr_client=client, use_oauth=True, access_token=data["access_token"],
                      sink=sink, cacert=False, synchronous_output_events=True)
    ws.start()
    ws.subscribe(MarketDataSubscription(conid="265598", fields=["31", "84", "86"]))
    deadline = time.monotonic() + 10
    while not count[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    root = data["api_base_url"].split("/v1/")[0].rstrip("/")
    latencies.clear()
    sent0, n0 = _sent(root), count[0]
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(float(cfg["seconds"]))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    got, messages = sorted(latencies), count[0] - n0
    sent = _sent(root) - sent0
    ws.shutdown()
    print(json.dumps({"messages": messages, "sim_sent": sent, "seconds": wall, "cpu_s": cpu,
                      "rate_msg_s": messages / wall,
                      "p50_ms": got[len(got) // 2] if got else None,
                      "p99_ms": got[int(len(got) * 0.99)] if got else None,
                      "latency_samples": len(got)}))


if __name__ == "__main__":
    main()
