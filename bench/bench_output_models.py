"""Benchmark: the cost of the typed-output boundary, and history's 5-request concurrency gate.

Measures, against the simulator (pacing off): `get_positions` over loopback (123 positions) vs
validating and dumping its result through `PositionsOutput`, and 12 concurrent `history` calls
through one credential with the peak number in flight (target: at most 5, IBKR's limit).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

from _common import emit, isolated_cache, simulator


def _median_ms(fn: Any, runs: int) -> float:
    """Median wall time of `fn()` in milliseconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


def main() -> None:
    """Time the action and its output dump; run 12 history requests at once and count overlap."""
    from noetl_ib_plugin.actions import history as history_mod
    from noetl_ib_plugin.actions.models import GetPositionsInput
    from noetl_ib_plugin.actions.outputs import PositionsOutput, output_json
    from noetl_ib_plugin.actions.portfolio import get_positions
    from noetl_ib_plugin.runner import get_client, resolve_credential, run_action

    os.environ["NOETL_IB_PACING"] = "off"
    with simulator("--no-pacing") as sim, isolated_cache():
        record = resolve_credential("sim_oauth1a", sim.credentials_file)
        client = get_client(record)
        typed = get_positions(client, GetPositionsInput())
        action_ms = _median_ms(lambda: get_positions(client, GetPositionsInput()), 20)
        # The action builds its model; this times that validation plus the edge's dump.
        fields = output_json(typed)
        dump_ms = _median_ms(lambda: output_json(PositionsOutput.model_validate(fields)), 200)

        inside = peak = 0
        lock = threading.Lock()
        real_get = client.get

        def counting_get(path: str, **kw: Any) -> Any:
            nonlocal inside, peak
            with lock:
                inside += 1
                peak = max(peak, inside)
            try:
                time.sleep(0.05)  # hold the slot long enough for the others to pile up
                return real_get(path, **kw)
            finally:
                with lock:
                    inside -= 1

        client.get = counting_get  # type: ignore[method-assign]
        threads = [threading.Thread(target=run_action, args=("history", record),
                                    kwargs={"conid": 265598, "period": "1d", "bar": "1h"})
                   for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        emit({
            "positions": typed.count,
            "get_positions_ms_median": action_ms,
            "output_validate_and_dump_ms_median": dump_ms,
            "history_concurrent_requests": len(threads),
            "history_peak_in_flight": peak,
            "history_limit": history_mod.HISTORY_CONCURRENCY,
            "target": "dump well under the action's own time; peak in flight <= 5",
        })


if __name__ == "__main__":
    main()
