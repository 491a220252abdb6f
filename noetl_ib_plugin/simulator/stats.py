"""Thread-safe counters behind GET /__sim/stats."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]

_COUNTERS = (
    "requests_total", "oauth2_token_requests", "sso_session_requests", "lst_requests",
    "ssodh_init_requests", "orders_accepted", "orders_rejected", "orders_rejected_duplicate_coid",
    "orders_cancelled", "orders_filled", "orders_partially_filled", "questions_asked",
    "rate_limited_responses", "auth_failures", "sessions_kicked", "penalty_box_entries",
    "history_rate_limited", "history_in_flight_max",
)


class Stats:
    """Named counters plus per-kind and per-endpoint breakdowns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._endpoints: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        """Add to a named counter."""
        with self._lock:
            self._counts[name] += amount

    def peak(self, name: str, value: int) -> None:
        """Keep the highest value seen under `name` (e.g. history requests in flight)."""
        with self._lock:
            self._counts[name] = max(self._counts[name], value)

    def fault(self, kind: str) -> None:
        """Count one injected fault of this kind."""
        with self._lock:
            self._faults[kind] += 1

    def fault_counts(self) -> dict[str, int]:
        """Injected faults so far by kind (a copy)."""
        with self._lock:
            return dict(self._faults)

    def request(self, endpoint: str) -> None:
        """Count one request to a trading/OAuth endpoint (admin calls are not counted)."""
        with self._lock:
            self._counts["requests_total"] += 1
            self._endpoints[endpoint] += 1

    def reset(self) -> None:
        """Zero everything."""
        with self._lock:
            self._counts.clear()
            self._faults.clear()
            self._endpoints.clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy; every documented counter is present even when zero."""
        with self._lock:
            out: dict[str, Any] = {name: self._counts.get(name, 0) for name in _COUNTERS}
            out.update({k: v for k, v in self._counts.items() if k not in out})
            out["faults_injected"] = dict(self._faults)
            out["faults_injected_total"] = sum(self._faults.values())
            out["requests_by_endpoint"] = dict(self._endpoints)
        return out
