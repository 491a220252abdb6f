"""A stand-in for the NoETL worker's `kind: python` runner, written from its documented contract.

Source of truth: ../shared/noetl.md, section "Distributed runtime, as the worker really does it"
(read from NoETL's public sources: noetl/tools `src/tools/python.rs`, noetl/worker). Not NoETL's
code: the Rust worker cannot be installed here, so this follows the rules it documents:

- the step's `code:` is wrapped in a generated script written to a temp file and run as
  ``<python> <file>`` with the worker's whole environment plus the step's `env:`;
- stdin carries one JSON object ``{"args", "variables", "execution_id", "step", "server_url"}``;
- the script binds globals `args`, `variables`, `execution_id`, `step` and each arg by name,
  runs the code, then -- if `result` is unset and a callable `main` exists -- calls `main`
  binding only the parameters it declares (every arg when it takes ``**kwargs``), an
  ``async def main`` under `asyncio.run`;
- the result is printed as ``@@__NOETL_RESULT__@@<json>`` (non-JSON values become strings),
  the last such line wins;
- the stored result holds `status` (ok, error, timeout), `data`, `error`, `stdout`, `stderr`,
  `exit_code`, `duration_ms`; stdout and stderr are persisted in the event log;
- an exception, a non-zero exit or a timeout does NOT fail the playbook; the step fails only
  when ``NOETL_PROVIDER_ERROR_TERMINATES=1`` and the data holds ``isError: true`` and a
  ``summary``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "WorkerRun", "render", "run_playbook", "run_python_step"]

MARKER = "@@__NOETL_RESULT__@@"

_PRELUDE = """\
import sys as _noetl_sys
import json as _noetl_json

_noetl_ctx = _noetl_json.loads(_noetl_sys.stdin.read())
args = _noetl_ctx.get('args') or {}
variables = _noetl_ctx.get('variables') or {}
execution_id = _noetl_ctx.get('execution_id')
step = _noetl_ctx.get('step')
globals().update(args)
"""

_EPILOGUE = """
if globals().get('result', None) is None:
    _noetl_main = globals().get('main', None)
    if callable(_noetl_main):
        import inspect as _noetl_inspect
        _noetl_params = _noetl_inspect.signature(_noetl_main).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in _noetl_params):
            _noetl_kwargs = dict(args)
        else:
            _noetl_kwargs = {p.name: args[p.name] for p in _noetl_params
                             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                             and p.name in args}
        if _noetl_inspect.iscoroutinefunction(_noetl_main):
            import asyncio as _noetl_asyncio
            result = _noetl_asyncio.run(_noetl_main(**_noetl_kwargs))
        else:
            result = _noetl_main(**_noetl_kwargs)

_noetl_sys.stdout.write('@MARKER@' + _noetl_json.dumps(globals().get('result', None), default=str)
                        + '\\n')
_noetl_sys.stdout.flush()
""".replace("@MARKER@", MARKER)


@dataclass
class WorkerRun:
    """What the worker stores for the step (its result record) and whether the step failed."""

    status: str
    data: Any
    error: str | None
    stdout: str
    stderr: str
    exit_code: int | None
    duration_ms: int

    @property
    def result(self) -> Any:
        """The marker value, i.e. what `{{ <step>.<field> }}` reads."""
        return self.data

    def step_failed(self, *, provider_error_terminates: bool = False) -> bool:
        """Python steps never fail the playbook, except on `isError`+`summary` when the operator opts in."""
        if not provider_error_terminates or not isinstance(self.data, dict):
            return False
        return self.data.get("isError") is True and bool(self.data.get("summary"))


def run_python_step(
    code: str,
    args: dict[str, Any],
    *,
    python: str = sys.executable,
    variables: dict[str, Any] | None = None,
    execution_id: str = "480000000000000001",
    step: str = "test",
    server_url: str | None = None,
    env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
    timeout_seconds: float | None = 120.0,
) -> WorkerRun:
    """Run `code` the way a NoETL worker runs a `kind: python` step and return its stored record.

    `worker_env` is the worker process's own environment on top of ours (e.g. its
    NOETL_SERVER_URL); `env` is the step's `env:`.
    """
    script = _PRELUDE + "\n" + textwrap.dedent(code) + "\n" + _EPILOGUE
    context = {
        "args": args,
        "variables": {"execution_id": execution_id, **(variables or {})},
        "execution_id": execution_id,
        "step": step,
        "server_url": server_url,
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="noetl-step-") as tmp:
        path = Path(tmp) / "noetl_python_step.py"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.Popen(
            [python, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(worker_env or {}), **(env or {})},
            cwd=tmp,
        )
        try:
            out, err = proc.communicate(json.dumps(context), timeout=timeout_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = True
    duration_ms = int((time.monotonic() - started) * 1000)
    data: Any = None
    for line in out.splitlines():
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
            except ValueError:
                data = line[len(MARKER):]
    if timed_out:
        status, error = "timeout", f"step timed out after {timeout_seconds}s"
    elif proc.returncode != 0:
        status, error = "error", (err.strip().splitlines() or ["exit code " + str(proc.returncode)])[-1]
    else:
        status, error = "ok", None
    return WorkerRun(status, data, error, out, err, proc.returncode, duration_ms)


# -- the server side of a run: render a step's config, resolve keychain aliases, route on results --

_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PART = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")
_KEYCHAIN_ALIAS = re.compile(r"keychain\.([A-Za-z_][\w-]*)")


def _lookup(expr: str, context: dict[str, Any]) -> Any:
    """A path like `a.b[0].c`, optionally prefixed by `not`; undefined is "" (minijinja's lenient mode)."""
    negate = expr.startswith("not ")
    node: Any = context
    for name, index in _PART.findall(expr[4:] if negate else expr):
        if name and isinstance(node, dict):
            node = node.get(name, "")
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            node = ""
    return (not _truthy(node)) if negate else node


def _scalar(value: Any) -> str:
    """How a template prints a value: booleans lower-case, None empty, objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "none")
    return bool(value)


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render a step config: a string that is one whole expression of an object stays an object."""
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not isinstance(value, str):
        return value
    whole = _EXPR.fullmatch(value.strip())
    if whole:
        found = _lookup(whole.group(1), context)
        return found if isinstance(found, (dict, list)) else _scalar(found)
    return _EXPR.sub(lambda m: _scalar(_lookup(m.group(1), context)), value)


def run_playbook(
    doc: dict[str, Any],
    *,
    server_url: str,
    python: str = sys.executable,
    execution_id: str = "480000000000000001",
    catalog_id: int = 470000000000000001,
    worker_env: dict[str, str] | None = None,
    workload: dict[str, Any] | None = None,
) -> tuple[list[str], dict[str, WorkerRun]]:
    """Drive a playbook step by step like server + worker: (the path taken, each python step's run)."""
    import requests

    steps = {s["step"]: s for s in doc["workflow"]}
    context: dict[str, Any] = {"workload": {**doc.get("workload", {}), **(workload or {})},
                               "execution_id": execution_id, "catalog_id": catalog_id}
    path: list[str] = []
    runs: dict[str, WorkerRun] = {}
    name = "start"
    while name != "end" and len(path) < 50:
        step = steps[name]
        path.append(name)
        tool = step.get("tool")
        if tool and tool.get("kind") == "python":
            code = tool.get("code", "")
            assert not any(m in code for m in ("{{", "{%", "{#")), f"{name}: template markers in code"
            keychain: dict[str, Any] = {}
            for alias in sorted(set(_KEYCHAIN_ALIAS.findall(json.dumps(tool)))):
                resp = requests.get(f"{server_url}/api/credentials/{alias}", timeout=10,
                                    params={"include_data": "true", "execution_id": execution_id})
                keychain[alias] = resp.json()["data"] if resp.status_code == 200 else ""
            rendered = render(tool, {**context, "keychain": keychain})
            run = run_python_step(
                code, rendered.get("args") or {}, python=rendered.get("python") or python,
                variables={k: v for k, v in context.items() if k != "keychain"},
                execution_id=execution_id, step=name, server_url=server_url,
                worker_env={"NOETL_SERVER_URL": server_url, **(worker_env or {})},
            )
            runs[name] = run
            context[name] = run.data
        arcs = step.get("next") or [{"step": "end"}]
        name = next(a["step"] for a in arcs if "when" not in a or _truthy(render(a["when"], context)))
    path.append(name)
    return path, runs
