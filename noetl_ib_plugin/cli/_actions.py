"""`noetl-ib actions [NAME] [--json]`: what a playbook can call, for people and for scripts.

Without `--json` it prints text: a table of every action, or one action's inputs (type, default,
meaning) and, when the action declares an `output_model`, its outputs. `--json` prints the same
catalog as one JSON object.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["action_catalog", "cmd_actions", "render_action", "render_table"]


def _type_of(schema: dict[str, Any]) -> str:
    """A short type name from a JSON-schema property (handles Optional, enums and lists)."""
    if "enum" in schema:
        return "enum"
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return f"list[{_type_of(schema['items'])}]"
    if "type" in schema:
        return str(schema["type"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    options = schema.get("anyOf") or schema.get("oneOf") or []
    names = [_type_of(o) for o in options if o.get("type") != "null"]
    return "|".join(dict.fromkeys(names)) or "any"


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per property of an object schema: name, type, required, default, meaning."""
    required = set(schema.get("required", []))
    out = []
    for arg, prop in (schema.get("properties") or {}).items():
        item: dict[str, Any] = {"name": arg, "type": _type_of(prop), "required": arg in required}
        if "default" in prop:
            item["default"] = prop["default"]
        if "enum" in prop:
            item["choices"] = prop["enum"]
        if prop.get("description"):
            item["description"] = prop["description"]
        out.append(item)
    return out


def _output_schema(action: Any) -> dict[str, Any] | None:
    """The JSON schema of the action's declared `output_model`, if it declares one."""
    model = getattr(action, "output_model", None)
    if model is None or not hasattr(model, "model_json_schema"):
        return None
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def _entry(name: str, action: Any) -> dict[str, Any]:
    """The catalog entry of one action."""
    entry: dict[str, Any] = {
        "name": name,
        "description": action.description,
        "trading": action.trading,
        "arguments": _fields(action.input_model.model_json_schema()),
    }
    output = _output_schema(action)
    if output is not None:
        entry["outputs"] = _fields(output)
        entry["output_schema"] = output
    return entry


def action_catalog(name: str | None = None) -> list[dict[str, Any]]:
    """Every registered action (built-ins and `noetl.plugins` entry points), or just `name`."""
    from ..errors import InputError
    from ..runner import default_host

    actions = default_host().registry.actions
    if name is not None:
        if name not in actions:
            from ..common.validation import closest

            near = closest(name, actions)
            hint = f"did you mean {near}? " if near else ""
            raise InputError(
                f"unknown action {name!r}",
                field="action",
                fix=f"{hint}run `noetl-ib actions` to list them all.",
            )
        return [_entry(name, actions[name])]
    return [_entry(n, a) for n, a in sorted(actions.items())]


def _default_text(item: dict[str, Any]) -> str:
    """How a default reads in the text form ("required" when there is none)."""
    if item["required"]:
        return "required"
    if "default" not in item:
        return "optional"
    value = item["default"]
    return "none" if value is None else str(value)


def render_table(catalog: list[dict[str, Any]]) -> str:
    """The catalog as aligned text columns: action, trades?, required inputs, description."""
    rows = [("ACTION", "TRADES", "REQUIRED INPUTS", "DESCRIPTION")]
    for entry in catalog:
        required = ", ".join(a["name"] for a in entry["arguments"] if a["required"]) or "-"
        rows.append((entry["name"], "yes" if entry["trading"] else "no", required,
                     entry["description"]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.append("")
    lines.append("One action's inputs: noetl-ib actions NAME    Machine form: noetl-ib actions --json")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _field_lines(title: str, fields: list[dict[str, Any]]) -> list[str]:
    """A titled, aligned block of fields: name, type, default, meaning."""
    if not fields:
        return [f"{title}: none"]
    rows = [("NAME", "TYPE", "DEFAULT", "MEANING")]
    for item in fields:
        meaning = item.get("description", "")
        if "choices" in item:
            meaning = f"{meaning} (one of: {', '.join(map(str, item['choices']))})".strip()
        rows.append((item["name"], item["type"], _default_text(item), meaning))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [f"{title}:"] + [
        ("  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3]).rstrip()
        for r in rows
    ]


def render_action(entry: dict[str, Any]) -> str:
    """One action as text: what it does, its inputs, and its outputs when it declares them."""
    name = entry["name"]
    lines = [f"{name}: {entry['description']}"]
    if entry["trading"]:
        lines.append("Trades: yes (paper accounts only unless the record and --allow-live opt in)")
    lines.append("")
    lines += _field_lines("Inputs", entry["arguments"])
    if "outputs" in entry:
        lines.append("")
        lines += _field_lines("Outputs", entry["outputs"])
    lines += [
        "",
        f"CLI:    noetl-ib run {name} --credential NAME key=value ...",
        f"Python: run_action({name!r}, credential, key=value, ...)",
    ]
    return "\n".join(lines) + "\n"


def cmd_actions(ns: argparse.Namespace) -> dict[str, Any] | str:
    """`--json`: the catalog as one JSON object; otherwise text for a person to read."""
    name = getattr(ns, "name", None)
    catalog = action_catalog(name)
    if getattr(ns, "json", False):
        return {"actions": catalog}
    return render_action(catalog[0]) if name else render_table(catalog)
