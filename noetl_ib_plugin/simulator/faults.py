"""Fault injection: seeded per-request draws of errors, resets, revocations, garbage and latency."""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .common import Response
from .stats import Stats

__all__ = ["GARBAGE_KINDS", "ORDER_KINDS", "WS_KINDS", "FaultDecision", "FaultPlan", "Faults", "garbage"]

#: Answered by the HTTP layer: before processing (reset_before, http_429, http_500,
#: http_503_maintenance) or after it (reset_after; reply_500 on /iserver/reply only).
WIRE_KINDS = ("reset_before", "http_429", "http_500", "http_503_maintenance", "http_403",
              "http_403_html", "revoke_token", "reset_after", "reply_500")
#: Answered before processing, nothing happens at the broker.
BEFORE_KINDS = frozenset({"reset_before", "http_429", "http_500", "http_503_maintenance",
                          "http_403", "http_403_html"})
REPLY_PATH = "/v1/api/iserver/reply/"
#: IBKR's weekend / nightly maintenance answer (ibkr-web-api.md s.8: 503 with an error).
MAINTENANCE = {"error": "Service Unavailable: the system is under maintenance, try again later",
               "statusCode": 503}
REPLY_500 = {"error": "Internal Server Error: failed to process the reply", "statusCode": 500}
#: IBKR's 403 (response-code table: not authorised, query /iserver/auth/status).
FORBIDDEN = {"error": "Forbidden: access to this resource is denied", "statusCode": 403}
#: A gateway's 403 page (ibeam #161).
ACCESS_DENIED_HTML = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied"
                      b"</H1>You don't have permission to access this resource on this server."
                      b"<P>Reference #18.4f2f1002.1733590000.1a2b3c</BODY></HTML>")
#: Accept-then-garbage: the request IS processed (an order is recorded), the answer is replaced.
GARBAGE_KINDS = ("garbage_html", "garbage_empty", "garbage_shape",
                 "garbage_408", "garbage_501", "garbage_524")
#: Applied by the broker when an order is accepted (placement or the last reply of a chain);
#: `leg_refused` to a bracket or OCA request;
#: `modify_fill_race` when a modification is processed (the order fills just before it).
ORDER_KINDS = ("inactive", "inactive_later", "session_change", "modify_fill_race", "leg_refused")
#: `modify_lost`: a modification (POST /iserver/account/{acct}/order/{id}) is processed, then
#: the connection is reset (drawn only for that request).
MODIFY_PATH = re.compile(r"^/v1/api/iserver/account/[^/]+/order/[^/]+/?$")
#: Drawn by the WebSocket endpoint (ws.py): `ws_refuse` once per handshake (401), the others
#: once per message the server is about to send: `ws_drop` closes the socket without a close
#: frame, `ws_silent` stops sending (heartbeats too) while the socket stays open, `ws_kick` sends
#: `sts` competing/unauthenticated and closes the brokerage session, `ws_malformed` sends a frame
#: that is not JSON in place of the message. `ws_slow_reader` is drawn once per frame the client
#: sends: the server stops reading (and sending) for `ws_slow_ms` before it handles the frame.
WS_KINDS = ("ws_refuse", "ws_drop", "ws_silent", "ws_kick", "ws_malformed", "ws_slow_reader")
KINDS = (*WIRE_KINDS, *GARBAGE_KINDS, *ORDER_KINDS, "modify_lost", *WS_KINDS)
ORDER_PATHS = ("/v1/api/iserver/account/", "/v1/api/iserver/reply/")

_HTML = (b"<!DOCTYPE html><html><head><title>Interactive Brokers</title></head><body>"
         b"<h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>")
_CLOUDFLARE_524 = (b"<!DOCTYPE html><html><head><title>api.ibkr.com | 524: A timeout occurred"
                   b"</title></head><body><h1>A timeout occurred</h1>"
                   b"<p>Error code 524</p></body></html>")


@dataclass
class FaultPlan:
    """Probabilities per kind, latency, lags, and which paths / methods the plan targets."""

    seed: int = 0
    probabilities: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    paths: tuple[str, ...] = ("/v1/api/",)
    methods: frozenset[str] | None = None
    garbage_paths: tuple[str, ...] = ORDER_PATHS
    garbage_methods: frozenset[str] = frozenset({"POST"})
    wrong_shape_body: Any = field(default_factory=lambda: {"foo": 1})
    live_orders_lag_s: float = 0.0
    inactive_reason: str = ""
    #: How long a `ws_slow_reader` stall lasts (milliseconds).
    ws_slow_ms: float = 1500.0
    #: Force each kind onto a request it applies to until it has fired once under this plan.
    at_least_once: bool = False

    @classmethod
    def parse(cls, plan: dict[str, Any]) -> FaultPlan:
        """Validate a JSON plan ({} clears); unknown keys are refused so typos are noticed."""
        known = {*KINDS, "seed", "latency_ms", "paths", "methods", "garbage_paths",
                 "garbage_methods", "wrong_shape_body", "live_orders_lag_s", "inactive_reason",
                 "ws_slow_ms", "at_least_once"}
        unknown = set(plan) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        probabilities = {}
        for kind in KINDS:
            p = float(plan.get(kind, 0.0))
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{kind} must be a probability in [0, 1]")
            if p:
                probabilities[kind] = p
        lag = float(plan.get("live_orders_lag_s", 0.0))
        if lag < 0:
            raise ValueError("live_orders_lag_s must be >= 0 (seconds)")
        slow = float(plan.get("ws_slow_ms", 1500.0))
        if not 0 <= slow <= 60_000:
            raise ValueError("ws_slow_ms must be from 0 to 60000 (milliseconds)")
        methods = plan.get("methods")
        return cls(
            seed=int(plan.get("seed", 0)),
            probabilities=probabilities,
            latency_ms=float(plan.get("latency_ms", 0.0)),
            paths=tuple(plan.get("paths") or ("/v1/api/",)),
            methods=frozenset(m.upper() for m in methods) if methods else None,
            garbage_paths=tuple(plan.get("garbage_paths") or ORDER_PATHS),
            garbage_methods=frozenset(m.upper() for m in plan.get("garbage_methods") or ["POST"]),
            wrong_shape_body=plan.get("wrong_shape_body", {"foo": 1}),
            live_orders_lag_s=lag,
            inactive_reason=str(plan.get("inactive_reason", "")),
            ws_slow_ms=slow,
            at_least_once=_flag(plan.get("at_least_once", False), "at_least_once"),
        )

    def describe(self) -> dict[str, Any]:
        """The plan as JSON, for GET /__sim/faults."""
        out: dict[str, Any] = {"seed": self.seed, **self.probabilities,
                               "latency_ms": self.latency_ms, "paths": list(self.paths)}
        if self.methods:
            out["methods"] = sorted(self.methods)
        if any(k in self.probabilities for k in GARBAGE_KINDS):
            out["garbage_paths"] = list(self.garbage_paths)
            out["garbage_methods"] = sorted(self.garbage_methods)
            out["wrong_shape_body"] = self.wrong_shape_body
        if self.live_orders_lag_s:
            out["live_orders_lag_s"] = self.live_orders_lag_s
        if self.inactive_reason:
            out["inactive_reason"] = self.inactive_reason
        if "ws_slow_reader" in self.probabilities:
            out["ws_slow_ms"] = self.ws_slow_ms
        if self.at_least_once:
            out["at_least_once"] = True
        return out


def _flag(value: Any, key: str) -> bool:
    """A JSON boolean; anything else is refused (a typo must not turn a guarantee off)."""
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


#: Which kind a forced request gets first: the ones few requests can carry before the wire ones.
_FORCE_ORDER = (*ORDER_KINDS, "modify_lost", *GARBAGE_KINDS, "reply_500", *WIRE_KINDS)


def _applies(kind: str, method: str, path: str, plan: FaultPlan) -> bool:
    """Whether a fault of this kind can take effect on this request (see `Faults.decide`)."""
    if kind in GARBAGE_KINDS:
        return path.startswith(plan.garbage_paths) and method in plan.garbage_methods
    if kind in ("modify_lost", "modify_fill_race"):
        return method == "POST" and MODIFY_PATH.match(path) is not None
    if kind in ORDER_KINDS:
        return method == "POST" and path.startswith(ORDER_PATHS)
    if kind == "reply_500":
        return method == "POST" and path.startswith(REPLY_PATH)
    return kind not in WS_KINDS


@dataclass
class FaultDecision:
    """What to do to one request."""

    latency: float = 0.0
    kinds: frozenset[str] = frozenset()
    garbage: str | None = None
    wrong_shape_body: Any = None
    inactive_reason: str = ""

    def __contains__(self, kind: str) -> bool:
        """`"http_500" in decision` reads naturally at call sites."""
        return kind in self.kinds


def garbage(decision: FaultDecision) -> Response | None:
    """The unreadable answer that replaces a processed request's real one (None: keep it)."""
    kind = decision.garbage
    if kind == "garbage_html":
        return Response(200, _HTML, "text/html; charset=utf-8")
    if kind == "garbage_empty":
        return Response(200, b"")
    if kind == "garbage_shape":
        return Response(200, json.dumps(decision.wrong_shape_body, separators=(",", ":")).encode())
    if kind == "garbage_408":
        return Response(408, {"error": "Request Timeout", "statusCode": 408})
    if kind == "garbage_501":
        return Response(501, {"error": "Not Implemented", "statusCode": 501})
    if kind == "garbage_524":
        return Response(524, _CLOUDFLARE_524, "text/html; charset=utf-8")
    return None


class Faults:
    """Holds the active plan and draws decisions from its seeded generator."""

    def __init__(self, stats: Stats) -> None:
        self._lock = threading.Lock()
        #: The fault counts (Stats.fault) tell `at_least_once` which kinds have fired.
        self._stats = stats
        self._fired_before: dict[str, int] = {}
        self.set({})

    def set(self, plan: dict[str, Any]) -> None:
        """Replace the plan; the random stream restarts from the plan's seed."""
        parsed = FaultPlan.parse(plan)
        with self._lock:
            self.plan = parsed
            self._rng = random.Random(parsed.seed)
            self._fired_before = self._stats.fault_counts()

    def _owed(self) -> list[str]:
        """Kinds of an `at_least_once` plan that have not fired since it was set (lock held)."""
        if not self.plan.at_least_once:
            return []
        fired = self._stats.fault_counts()
        return [kind for kind in _FORCE_ORDER + WS_KINDS if kind in self.plan.probabilities
                and fired.get(kind, 0) <= self._fired_before.get(kind, 0)]

    def decide(self, method: str, path: str) -> FaultDecision:
        """Draw once per kind (fixed order) for requests the plan targets."""
        with self._lock:
            plan = self.plan
            if not plan.probabilities and not plan.latency_ms:
                return FaultDecision()
            if not path.startswith(plan.paths) or (plan.methods and method not in plan.methods):
                return FaultDecision()
            hit = {kind for kind in KINDS
                   if kind in plan.probabilities and self._rng.random() < plan.probabilities[kind]}
            # One owed kind per request, without the wire kinds drawn beside it (they answer
            # before the request is handled, or are counted instead of modify_lost); a kind
            # still owed after this request (it could not take effect here) is forced later.
            owed = next((k for k in self._owed() if _applies(k, method, path, plan)), None)
            if owed is not None:
                hit = (hit - set(WIRE_KINDS)) | {owed}
        chosen = None
        if path.startswith(plan.garbage_paths) and method in plan.garbage_methods:
            chosen = next((k for k in GARBAGE_KINDS if k in hit), None)
        hit -= set(GARBAGE_KINDS) - ({chosen} if chosen else set())
        hit -= set(WS_KINDS)
        if not (path.startswith(REPLY_PATH) and method == "POST"):
            hit.discard("reply_500")
        if not (MODIFY_PATH.match(path) and method == "POST"):
            hit -= {"modify_lost", "modify_fill_race"}
        return FaultDecision(plan.latency_ms / 1000.0, frozenset(hit), chosen,
                             plan.wrong_shape_body, plan.inactive_reason)

    def draw_ws(self, kind: str) -> bool:
        """One draw of a WebSocket fault kind (WS_KINDS); False when the plan does not name it."""
        with self._lock:
            p = self.plan.probabilities.get(kind, 0.0)
            return bool(p) and (self._rng.random() < p or kind in self._owed())
