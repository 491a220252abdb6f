"""Which IBKR order questions are answered "yes": decided by message id, never by English text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DEFAULT_AUTO_CONFIRM", "KNOWN_MESSAGES", "ConfirmPolicy"]

#: Generic warnings that every order of that kind gets; confirming them changes nothing.
DEFAULT_AUTO_CONFIRM: frozenset[str] = frozenset({"o10151", "o10152", "o10331", "p12", "o354"})

#: What the ids mean, for error messages (unknown ids are declined by default too).
KNOWN_MESSAGES: dict[str, str] = {
    "o163": "price exceeds the percentage constraint",
    "o354": "no market data for the contract",
    "o382": "tick size limit",
    "o383": "size limit exceeded",
    "o403": "order will trigger and fill immediately",
    "o451": "total value limit exceeded",
    "o10151": "market order warning",
    "o10152": "stop order warning",
    "o10153": "mandatory cap price",
    "o10164": "cash quantity",
    "o10223": "cash quantity",
    "o10331": "stop order risks",
    "p6": "multiple accounts",
    "p12": "price management algo",
}


def _norm(ids: Iterable[str]) -> frozenset[str]:
    """Lower-cased, stripped, non-empty ids."""
    return frozenset(str(i).strip().lower() for i in ids if str(i).strip())


@dataclass(frozen=True)
class ConfirmPolicy:
    """Auto-confirm the generic warnings plus `confirm`, minus `decline`; decline all else."""

    confirm: frozenset[str] = frozenset()
    decline: frozenset[str] = frozenset()
    auto: frozenset[str] = DEFAULT_AUTO_CONFIRM

    @classmethod
    def build(
        cls, confirm: Iterable[str] | None = None, decline: Iterable[str] | None = None
    ) -> ConfirmPolicy:
        """Policy from the caller's `confirm` / `decline` lists (ids are case-insensitive)."""
        return cls(confirm=_norm(confirm or ()), decline=_norm(decline or ()))

    def allows(self, message_id: str) -> bool:
        """True when this message id may be answered with `confirmed: true`."""
        mid = message_id.strip().lower()
        if mid in self.decline:
            return False
        return mid in self.auto or mid in self.confirm

    def refused(self, message_ids: Iterable[str]) -> list[str]:
        """The ids of one question the policy does not allow (empty list: confirm it)."""
        ids = list(message_ids)
        if not ids:
            # A question without ids cannot be judged by id: refuse it rather than guess.
            return ["<no message id>"]
        return [mid for mid in ids if not self.allows(mid)]

    @staticmethod
    def describe(message_id: str) -> str:
        """`o163 (price exceeds the percentage constraint)`."""
        meaning = KNOWN_MESSAGES.get(message_id.lower())
        return f"{message_id} ({meaning})" if meaning else message_id
