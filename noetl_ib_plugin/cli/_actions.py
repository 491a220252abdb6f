"""`noetl-ib actions`: what a playbook can call, with each argument's type, default and meaning."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["action_catalog", "cmd_actions"]


def _type_of(schema: dict[str, Any]) -> str:
    """A short type name from a JSON-schema property (handles Optional and enums)."""
    if "enum" in schema:
        return "enum"
    if "type" in schema:
        return str(schema["type"])
    options = schema.get("anyOf") or schema.get("oneOf") or []
    names = [_type_of(o) for o in options if o.get("type") != "null"]
    return "|".join(dict.fromkeys(names)) or "any"


def action_catalog() -> list[dict[str, Any]]:
    """Every registered action (built-ins and `noetl.plugins` entry points) with its arguments."""
    from ..plugins import registry

    out: list[dict[str, Any]] = []
    for name, action in sorted(registry().actions.items()):
        schema = action.input_model.model_json_schema()
        required = set(schema.get("required", []))
        arguments = []
        for arg, prop in (schema.get("properties") or {}).items():
            item: dict[str, Any] = {"name": arg, "type": _type_of(prop), "required": arg in required}
            if "default" in prop:
                item["default"] = prop["default"]
            if "enum" in prop:
                item["choices"] = prop["enum"]
            if prop.get("description"):
                item["description"] = prop["description"]
            arguments.append(item)
        out.append(
            {
                "name": name,
                "description": action.description,
                "trading": action.trading,
                "arguments": arguments,
            }
        )
    return out


def cmd_actions(ns: argparse.Namespace) -> dict[str, Any]:
    """The catalog as one JSON object."""
    del ns
    return {"actions": action_catalog()}
