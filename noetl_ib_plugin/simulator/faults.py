"""Fault injection: seeded per-request draws of 500s, 429s, resets, revocations and latency."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FaultDecision", "FaultPlan", "Faults"]

KINDS = ("reset_before", "http_429", "http_500", "revoke_token", "reset_after")


@dataclass
class FaultPlan:
    """Probabilities per kind, latency, and which path prefixes / methods the plan targets."""

    seed: int = 0
    probabilities: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    paths: tuple[str, ...] = ("/v1/api/",)
    methods: frozenset[str] | None = None

    @classmethod
    def parse(cls, plan: dict[str, Any]) -> FaultPlan:
        """Validate a JSON plan ({} clears); unknown keys are refused so typos are noticed."""
        known = {*KINDS, "seed", "latency_ms", "paths", "methods"}
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
        methods = plan.get("methods")
        return cls(
            seed=int(plan.get("seed", 0)),
            probabilities=probabilities,
            latency_ms=float(plan.get("latency_ms", 0.0)),
            paths=tuple(plan.get("paths") or ("/v1/api/",)),
            methods=frozenset(m.upper() for m in methods) if methods else None,
        )

    def describe(self) -> dict[str, Any]:
        """The plan as JSON, for GET /__sim/faults."""
        out: dict[str, Any] = {"seed": self.seed, **self.probabilities,
                               "latency_ms": self.latency_ms, "paths": list(self.paths)}
        if self.methods:
            out["methods"] = sorted(self.methods)
        return out


@dataclass
class FaultDecision:
    """What to do to one request."""

    latency: float = 0.0
    kinds: frozenset[str] = frozenset()

    def __contains__(self, kind: str) -> bool:
        """`"http_500" in decision` reads naturally at call sites."""
        return kind in self.kinds


class Faults:
    """Holds the active plan and draws decisions from its seeded generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.set({})

    def set(self, plan: dict[str, Any]) -> None:
        """Replace the plan; the random stream restarts from the plan's seed."""
        parsed = FaultPlan.parse(plan)
        with self._lock:
            self.plan = parsed
            self._rng = random.Random(parsed.seed)

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
        return FaultDecision(plan.latency_ms / 1000.0, frozenset(hit))
