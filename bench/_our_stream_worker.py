"""Runs in our venv: StreamClient consumes AAPL market data for N seconds (same report as
_ibind_stream_worker.py: messages, process CPU seconds, latency percentiles)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any


def main() -> None:
    """Connect, subscribe, count, report."""
    from noetl_ib_plugin.runner import default_host, get_client, resolve_credential
    from noetl_ib_plugin.streaming import QuoteEvent, StreamSettings

    cfg: dict[str, Any] = json.loads(sys.argv[1])
    host = default_host()
    record = resolve_credential("sim_oauth1a", cfg["credentials_file"], host=host)
    client = get_client(record, host=host)
    stream = host.stream(client, StreamSettings(backoff_base=0.1, stale_after=5))
    stream.subscribe_quotes([265598], ["last", "bid", "ask"])
    latencies: list[float] = []
    stop = threading.Event()
    with stream:
        assert stream.wait_ready(15)
        first = time.monotonic() + 10
        while stream.last_quote(265598) is None and time.monotonic() < first:
            stream.get(0.05)

        def consume() -> None:
            while not stop.is_set():
                event = stream.get(0.2)
                if isinstance(event, QuoteEvent) and event.updated:
                    latencies.append(event.received_at * 1000 - event.updated)

        reader = threading.Thread(target=consume)
        reader.start()
        cpu0 = time.process_time()
        time.sleep(float(cfg["seconds"]))
        cpu = time.process_time() - cpu0
        stop.set()
        reader.join()
    got = sorted(latencies)
    print(json.dumps({"messages": len(got), "cpu_s": cpu,
                      "p50_ms": got[len(got) // 2] if got else None,
                      "p99_ms": got[int(len(got) * 0.99)] if got else None}))


if __name__ == "__main__":
    main()
