"""Transport-independent request handling: auth, pacing, faults, routing and the admin API."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import accounts_api, api, state
from .auth import AuthError, AuthService
from .broker import Broker
from .common import ApiError, Request, Response
from .derivatives import derivative_contracts
from .faults import FaultDecision, Faults
from .market import CONTRACTS, Market, bulk_contracts
from .pacing import Pacer
from .services import Services
from .stats import Stats

__all__ = ["Engine"]

Clock = Callable[[], float]


class Engine:
    """All simulator state and the request pipeline; the HTTP layer only moves bytes."""

    def __init__(
        self,
        *,
        seed: int = 1,
        clock: Clock = time.time,
        pacing: bool = True,
        pacing_overrides: Mapping[str, tuple[int, float]] | None = None,
        pacing_leniency: float = 0.05,
        positions_page_size: int = 100,
        bulk_positions: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = clock
        self.stats = Stats()
        self.faults = Faults(self.stats)
        self.auth = AuthService(clock)
        contracts = dict(CONTRACTS)
        contracts.update({c.conid: c for c in derivative_contracts(CONTRACTS)})
        largest = max((bulk_positions or {}).values(), default=0)
        extra = bulk_contracts(largest)
        contracts.update({c.conid: c for c in extra})
        self.market = Market(seed, clock, contracts)
        self.broker = Broker(self.market, clock, self.stats, seed)
        self.broker.bulk = {acct: extra[:n] for acct, n in (bulk_positions or {}).items()}
        self.pacer = Pacer(clock, pacing_overrides, pacing_leniency, pacing)
        #: Send Retry-After with a 429 (IBKR does not document one; clients must not need it).
        self.retry_after_header = True
        #: Where user registrations are saved (None: not persisted).
        self.state_dir: Path | None = None
        self.positions_page_size = positions_page_size
        #: What the route handlers get (api.py): the state, not the pipeline.
        self.services = Services(
            clock=clock, stats=self.stats, faults=self.faults, auth=self.auth,
            market=self.market, broker=self.broker, positions_page_size=positions_page_size,
        )

    def reset(self) -> None:
        """Clean trading state, stats, sessions, faults, pacing and pinned prices; keep clients."""
        self.faults.set({})
        self.pacer.reset()
        self.market.reset()
        self.broker.reset()
        self.stats.reset()

    # -- trading requests ----------------------------------------------------------------------
    def handle(self, req: Request, decision: FaultDecision) -> Response:
        """Run one non-admin request through auth, faults, pacing, bridge check and the route."""
        self.broker.evaluate()
        found = api.match(req.method, req.path)
        if found is None:
            self.stats.request(f"{req.method} <unknown>")
            return api.not_found(req.path)
        route, args = found
        self.stats.request(f"{req.method} {route.name}")
        call = api.Call(req, args, decision=decision)
        try:
            if not route.public:
                call.principal = self.auth.authenticate(
                    req.method, req.path, req.query, req.header("authorization")
                )
                if "revoke_token" in decision:
                    self.stats.fault("revoke_token")
                    self.auth.revoke(call.principal.token_id)
                    raise AuthError(401, {"error": "token revoked", "statusCode": 401})
                boxed_before = self.pacer.boxed_total
                wait = self.pacer.check(call.principal.username, ("global", *route.pace))
                if wait is not None:
                    self.stats.incr("rate_limited_responses")
                    if self.pacer.boxed_total > boxed_before:
                        self.stats.incr("penalty_box_entries")
                    headers = ({"Retry-After": self.pacer.retry_after(wait)}
                               if self.retry_after_header else {})
                    return Response(429, {"error": "Too many requests", "statusCode": 429},
                                    headers=headers)
                accounts = route.handler is accounts_api.iserver_accounts
                call.session = (self.broker.require_bridge(call.principal, accounts=accounts)
                                if route.bridge else self.broker.session(call.principal))
            result = route.handler(self.services, call)
        except AuthError as exc:
            self.stats.incr("auth_failures")
            return Response(exc.status, exc.body, exc.content_type)
        except ApiError as exc:
            return Response(exc.status, exc.body, headers=exc.headers)
        if isinstance(result, Response):
            return result
        return Response(200, result)

    def count(self, req: Request) -> None:
        """Count a request that a fault answered before routing."""
        found = api.match(req.method, req.path)
        self.stats.request(f"{req.method} {found[0].name if found else '<unknown>'}")

    # -- admin --------------------------------------------------------------------------------
    def handle_admin(self, req: Request) -> Response:
        """The unauthenticated /__sim/* API for tests and operators."""
        self.broker.evaluate()
        path = req.path.rstrip("/")
        try:
            body: Any = req.json() if req.method == "POST" else {}
            if path == "/__sim/stats" and req.method == "GET":
                return Response(200, self.stats_snapshot())
            if path == "/__sim/orders" and req.method == "GET":
                return Response(200, self.broker.admin_orders())
            if path == "/__sim/options" and req.method == "GET":
                return Response(200, self.broker.order_options())
            if path == "/__sim/options" and req.method == "POST":
                return Response(200, self.broker.set_order_options(
                    **(body if isinstance(body, dict) else {})))
            if path == "/__sim/logical" and req.method == "GET":
                return Response(200, self.broker.logical_requests())
            if path == "/__sim/faults" and req.method == "GET":
                return Response(200, self.faults.plan.describe())
            if path == "/__sim/faults" and req.method == "POST":
                self.faults.set(body if isinstance(body, dict) else {})
                return Response(200, self.faults.plan.describe())
            if path == "/__sim/reset" and req.method == "POST":
                self.reset()
                return Response(200, {"reset": True})
            if path == "/__sim/price" and req.method == "POST":
                self.set_price(int(body["conid"]), float(body["price"]))
                return Response(200, {"conid": int(body["conid"]), "price": float(body["price"])})
            if path == "/__sim/revoke" and req.method == "POST":
                return Response(200, {"revoked": self.auth.revoke_all()})
            if path == "/__sim/clients" and req.method == "POST":
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                return Response(200, state.register(self.services, body, self.state_dir))
            if path == "/__sim/health":
                return Response(200, {"ok": True})
        except ApiError as exc:
            return Response(exc.status, exc.body)
        except (KeyError, TypeError, ValueError) as exc:
            return Response(400, {"error": f"bad admin request: {exc}"})
        return Response(404, {"error": f"Not Found: {req.path}"})

    def stats_snapshot(self) -> dict[str, Any]:
        """Counters plus the order counts per logical request (GET /__sim/stats)."""
        logical = self.broker.logical_requests()
        return {**self.stats.snapshot(), "logical_requests": logical["logical_requests"],
                "logical_duplicates": logical["logical_duplicates"]}

    def set_price(self, conid: int, price: float) -> None:
        """Pin a price and immediately let working orders react to it."""
        self.market.set_price(conid, price)
        self.broker.evaluate()
