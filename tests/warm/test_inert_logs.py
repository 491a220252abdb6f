"""Request-controlled text never becomes a shell command in a log (issue 25 item 4).

An action name is chosen by whoever runs the step (a sandboxed step, a playbook author); the
error log and the warm server's log must keep it as data even when someone sources the file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .warmfix import Warm

ACTION = "x$(touch {p})`touch {p}`"


def _sourced_runs_nothing(log: Path, marker: Path) -> None:
    """`. LOG` in a shell (errors are fine) creates no marker file."""
    subprocess.run(["/bin/sh", "-c", f'. "{log}"'], capture_output=True, timeout=30, check=False)
    assert not marker.exists()


def test_error_log_of_an_in_process_step_keeps_the_action_name_inert(
    warm: Warm, tmp_path: Path
) -> None:
    """`noetl-ib run 'x$(touch P)'` logs exit 2 with that name, and sourcing the log runs nothing."""
    marker, log = tmp_path / "pwned", tmp_path / "errors.jsonl"
    action = ACTION.format(p=marker)
    proc = warm.run("run", action, "--credential", "c", NOETL_IB_ERROR_LOG=str(log))
    assert proc.returncode == 2 and not marker.exists()
    text = log.read_text()
    assert "$" not in text and "`" not in text and text.isascii()
    (entry,) = [json.loads(line) for line in text.splitlines()]
    assert entry["command"] == f"run {action}" and entry["exit_code"] == 2
    _sourced_runs_nothing(log, marker)


def test_error_log_of_a_lost_warm_step_keeps_the_action_name_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The warm client's exit 6 line for `run 'x$(touch P)'` is inert JSON naming that action."""
    from noetl_ib_plugin.cli.warm.client import _lost

    marker, log = tmp_path / "pwned", tmp_path / "errors.jsonl"
    action = ACTION.format(p=marker)
    monkeypatch.setenv("NOETL_IB_ERROR_LOG", str(log))
    assert _lost("the connection was lost", ["run", action, "--credential", "c"], None) == 6
    capfd.readouterr()
    text = log.read_text()
    assert "$" not in text and "`" not in text
    assert json.loads(text)["command"] == f"run {action}"
    _sourced_runs_nothing(log, marker)


def test_server_log_lines_are_inert(tmp_path: Path) -> None:
    """Whatever reaches the server log stays one printable line without `$` or backquote."""
    from types import SimpleNamespace

    from noetl_ib_plugin.cli.warm.server import Server

    marker, log = tmp_path / "pwned", tmp_path / "s.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        Server.log(SimpleNamespace(log_fd=fd, log_max=1 << 20),  # type: ignore[arg-type]
                   "refused a job: " + ACTION.format(p=marker) + "\nforged line \x1b[2J é")
    finally:
        os.close(fd)
    text = log.read_text()
    assert text.count("\n") == 1 and text.isascii() and "\x1b" not in text
    assert "$" not in text and "`" not in text
    assert "x\\x24(touch " in text and "\\nforged line \\x1b[2J \\xe9" in text
    _sourced_runs_nothing(log, marker)


#: Shell syntax a request can carry besides `$(...)`: quotes closed early, separators, pipes,
#: redirections, a newline, history expansion, a backslash before the closing quote.
PAYLOADS = ['x";touch {p};"', "x';touch {p};'", "x\ntouch {p}\n", "x|touch {p}", "x>{p}",
            "x\\", 'x\\";touch {p};#', "x!!;touch {p}"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_lost_warm_step_log_line_stays_data_for_any_shell_syntax(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    payload: str
) -> None:
    """Action name, credential and cOID carrying shell syntax: sourcing the exit 6 line runs nothing."""
    from noetl_ib_plugin.cli.warm.client import _lost

    marker, log = tmp_path / "pwned", tmp_path / "errors.jsonl"
    text = payload.format(p=marker)
    monkeypatch.setenv("NOETL_IB_ERROR_LOG", str(log))
    assert _lost("the connection was lost", ["run", text, "--credential", text], text) == 6
    capfd.readouterr()
    line = log.read_text()
    assert line.count("\n") == 1 and line.isascii()
    assert json.loads(line)["error"]["client_order_id"] == text
    _sourced_runs_nothing(log, marker)
    subprocess.run(["bash", "-c", f'. "{log}"'], capture_output=True, timeout=30, check=False)
    assert not marker.exists()
