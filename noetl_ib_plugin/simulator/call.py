"""What a route handler receives about one request (its own module so route modules share it)."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import Principal
from .broker import BrokerSession
from .common import Request
from .faults import ORDER_KINDS, FaultDecision

__all__ = ["Call"]


@dataclass
class Call:
    """Everything a route handler needs about one authenticated request."""

    req: Request
    args: tuple[str, ...]
    principal: Principal | None = None
    session: BrokerSession | None = None
    decision: FaultDecision | None = None

    @property
    def order_faults(self) -> frozenset[str]:
        """The order fault kinds drawn for this request (inactive, session_change, ...)."""
        return self.decision.kinds & frozenset(ORDER_KINDS) if self.decision else frozenset()

    @property
    def inactive_reason(self) -> str:
        """The reason text an Inactive order carries (fault plan's inactive_reason)."""
        return self.decision.inactive_reason if self.decision else ""

    @property
    def who(self) -> Principal:
        """The authenticated principal (routes marked public never ask)."""
        assert self.principal is not None
        return self.principal

    @property
    def sess(self) -> BrokerSession:
        """The caller's brokerage session."""
        assert self.session is not None
        return self.session
