"""`noetl-ib run ACTION`: one action, one JSON object."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import UsageError
from ._args import check_argument_name
from ._io import load_json_bounded, parse_assignments

__all__ = ["cmd_run", "collect_args", "tell_waits"]


def collect_args(args_json: str | None, params: list[str]) -> dict[str, Any]:
    """--args-json first, then key=value words on top (the words win)."""
    args: dict[str, Any] = {}
    if args_json:
        parsed = load_json_bounded(args_json, "args_json")
        if not isinstance(parsed, dict):
            raise UsageError("--args-json must be a JSON object", field="args_json")
        for key in parsed:
            check_argument_name(str(key), f"--args-json key {key!r}")
        args.update(parsed)
    args.update(parse_assignments(params))
    return args


def tell_waits(what: str, seconds: float) -> None:
    """A wait of a second or more, said on stderr (stdout holds only the result)."""
    sys.stderr.write(f"noetl-ib: waiting {seconds:.1f} s for {what}\n")
    sys.stderr.flush()


def cmd_run(ns: argparse.Namespace) -> dict[str, Any]:
    """Resolve the credential, run the action through the shared runner, return its JSON."""
    args = collect_args(ns.args_json, list(ns.params or []))
    if "progress" in args:
        raise UsageError("'progress' is not an action argument: remove progress=...", field="progress")
    for reserved in ("credential", "credentials_file", "allow_live"):
        if reserved in args:
            raise UsageError(
                f"{reserved!r} is an option, not an action argument: use --{reserved.replace('_', '-')}",
                field=reserved,
            )
    from ..actions.outputs import output_json
    from ..runner import run_action_typed

    result = run_action_typed(
        ns.action,
        ns.credential,
        credentials_file=ns.credentials_file,
        allow_live=bool(ns.allow_live),
        progress=tell_waits,
        **args,
    )
    return dict(output_json(result))  # the model becomes JSON here, at the edge
