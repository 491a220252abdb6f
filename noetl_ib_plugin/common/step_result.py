"""The routable result of one action: ``ok`` true with the output, or ``ok`` false with the typed error.

One shape for every front door whose caller routes on a value rather than an exit code: NoETL
`kind: python` steps (`noetl_ib_plugin.entry.main`) and `noetl-ib run --on-error result` in
`kind: shell` steps. A playbook routes with ``when: "{{ <step>.ok }}"`` either way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["failure_result", "success_result"]


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so the summary stays one line in NoETL's UI."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def success_result(action: str, out: Any) -> dict[str, Any]:
    """`out` (an action's JSON output) with ``ok: true``; `place_order` adds ``outcome: placed``."""
    result: dict[str, Any] = out if isinstance(out, dict) else {"result": out}
    result.setdefault("ok", True)
    if action == "place_order":
        result.setdefault("outcome", "placed")
    return result


def failure_result(
    action: Any, exc: BaseException, *, debug_hint: str = "rerun with log_level: DEBUG"
) -> dict[str, Any]:
    """The result for a failure: ok false, isError, a one-line summary, the typed error.

    Shape: ``{"ok": false, "isError": true, "summary": str, "error": {"type", "message", "field",
    "category", "fix", ...}}``; `place_order` adds ``outcome``: ``refused`` (nothing works at
    IBKR) or ``unknown`` (look the order up by its client_order_id before resending).
    """
    from ..errors import IBPluginError, InputError, OrderRejected

    if isinstance(exc, IBPluginError):
        error: dict[str, Any] = {**exc.to_dict(), "message": exc.message, "field": exc.field,
                                 "category": exc.category, "fix": exc.fix}
        if exc.status is not None:
            error["status"] = exc.status
        text = str(exc)
    else:
        # Foreign exceptions may quote anything (a secret, a PEM): only their type is shown.
        error = {"type": type(exc).__name__, "message": "unexpected error inside noetl-ib-plugin",
                 "field": None, "category": "internal",
                 "fix": f"{debug_hint} and report the traceback (it is redacted)."}
        text = f"{error['type']}: {error['message']}"
    label = action if isinstance(action, str) and action else "noetl-ib"
    out: dict[str, Any] = {
        "ok": False,
        "isError": True,
        "summary": _one_line(f"{label} failed: {text}"),
        "error": error,
    }
    if label == "place_order":
        refused = isinstance(exc, (InputError, OrderRejected))
        out["outcome"] = "refused" if refused else "unknown"
    return out
