"""Structured fields of `to_dict` (IBKR's reason, contract candidates, ids) are redacted too."""

from __future__ import annotations

import json

from noetl_ib_plugin import errors
from noetl_ib_plugin.common.step_result import failure_result

# Built here, not taken from the redaction module: the oracle does not reuse the code it checks.
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n-----END PRIVATE KEY-----"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln"
TOKEN = "access_token=S3CRETVALUE0123456789"


def _leaks(blob: str) -> list[str]:
    """Fragments of the three secrets that survive in `blob`."""
    return [m for m in ("MIIEvQIBADAN", "eyJhbGciOiJSUzI1NiJ9", "S3CRETVALUE") if m in blob]


def test_order_inactive_reason_is_redacted() -> None:
    """IBKR's free-text reason quoting a PEM or token never reaches to_dict or entry.main."""
    exc = errors.OrderInactive("held", order_id="7", client_order_id="c-1",
                               reason=f"rejected {PEM} {JWT} {TOKEN}")
    assert _leaks(json.dumps(exc.to_dict())) == []
    assert _leaks(json.dumps(failure_result("place_order", exc))) == []
    assert exc.to_dict()["reason"].startswith("rejected ")
    assert exc.to_dict()["order_id"] == "7"


def test_ambiguous_contract_candidates_are_redacted() -> None:
    """Nested candidate values are masked; their keys and plain values stay as IBKR sent them."""
    exc = errors.AmbiguousContract(
        "two", candidates=[{"conid": 8314, "exchange": "ASX", "description": f"x {TOKEN} {JWT}"}]
    )
    out = exc.to_dict()
    assert _leaks(json.dumps(out)) == []
    assert out["candidates"][0]["conid"] == 8314
    assert out["candidates"][0]["exchange"] == "ASX"


def test_idempotency_conflict_order_id_is_redacted() -> None:
    """An order id field holding pasted secret text is masked in to_dict."""
    exc = errors.IdempotencyKeyConflict("x", client_order_id="c-1", order_id=PEM)
    assert _leaks(json.dumps(exc.to_dict())) == []
    assert exc.to_dict()["client_order_id"] == "c-1"
