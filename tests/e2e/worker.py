"""A faithful stand-in for the NoETL worker's `kind: python` runner (noetl-tools PythonTool).

The worker writes a wrapper script around the step's `code:` to a temp file and runs it with the
step's `python:` interpreter. The wrapper reads `{"args", "variables", "execution_id", "step",
"server_url"}` as JSON on stdin, copies `args` into globals (and `input_data`), runs the code,
and -- when the code left `result` unset and defines a callable `main` -- calls `main` with the
args its signature names (all of them when it takes **kwargs), awaiting an async main. It then
prints `@@__NOETL_RESULT__@@<json>` and the worker takes the LAST such line as the step result;
a non-zero exit fails the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "WorkerRun", "run_python_step"]

MARKER = "@@__NOETL_RESULT__@@"

_PRELUDE = """\
import sys
import json

context = json.loads(sys.stdin.read())
args = context.get('args', {})
variables = context.get('variables', {})
execution_id = context.get('execution_id')
step = context.get('step')
globals().update(args)
input_data = dict(args)
"""

_EPILOGUE = """
if globals().get('result', None) is None:
    _w_main = globals().get('main', None)
    if callable(_w_main):
        import inspect as _w_inspect
        _w_sig = _w_inspect.signature(_w_main)
        _w_kwargs = {}
        _w_var_kw = any(p.kind == p.VAR_KEYWORD for p in _w_sig.parameters.values())
        for _w_name, _w_p in _w_sig.parameters.items():
            if _w_p.kind in (_w_p.VAR_POSITIONAL, _w_p.VAR_KEYWORD):
                continue
            if _w_name in args:
                _w_kwargs[_w_name] = args[_w_name]
        if _w_var_kw:
            for _w_k, _w_v in args.items():
                _w_kwargs.setdefault(_w_k, _w_v)
        if _w_inspect.iscoroutinefunction(_w_main):
            import asyncio as _w_asyncio
            result = _w_asyncio.run(_w_main(**_w_kwargs))
        else:
            result = _w_main(**_w_kwargs)

try:
    sys.stdout.write('@MARKER@' + json.dumps(globals().get('result', None), default=str) + '\\n')
    sys.stdout.flush()
except Exception as _w_err:
    sys.stdout.write('@MARKER@null\\n')
    sys.stderr.write('noetl result capture failed: ' + repr(_w_err) + '\\n')
""".replace("@MARKER@", MARKER)


@dataclass
class WorkerRun:
    """What the worker would record for the step."""

    exit_code: int
    result: Any
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """The worker marks the step failed on a non-zero exit."""
        return self.exit_code == 0


def run_python_step(
    code: str,
    args: dict[str, Any],
    *,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> WorkerRun:
    """Run `code` the way a NoETL worker runs a `kind: python` step and return the captured result."""
    script = _PRELUDE + "\n" + textwrap.dedent(code) + "\n" + _EPILOGUE
    context = {"args": args, "variables": {}, "execution_id": "1", "step": "test", "server_url": None}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noetl_step.py"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.run(
            [python, str(path)],
            input=json.dumps(context),
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            check=False,
            cwd=tmp,
        )
    result: Any = None
    kept = []
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            try:
                result = json.loads(line[len(MARKER) :])
            except ValueError:
                result = None
            continue
        kept.append(line)
    return WorkerRun(proc.returncode, result, "\n".join(kept), proc.stderr)
