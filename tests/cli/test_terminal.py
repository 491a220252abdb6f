"""A terminal is not a pipe: indented JSON and readable errors on a TTY, piped output unchanged."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from noetl_ib_plugin.simulator import Simulator

from .helpers import cli, one_json, process_env

_BAD_SIDE = ["run", "place_order", "--credential", "sim_oauth2", "conid=265598", "side=SIDEWAYS",
             "quantity=1", "order_type=LMT", "limit_price=1"]


def _on_terminal(*args: str, stream: str) -> tuple[int, str, str]:
    """Run `noetl-ib ARGS` with `stream` (stdout or stderr) on a pseudo-terminal: (exit, out, err)."""
    leader, follower = pty.openpty()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: follower}
    proc = subprocess.Popen([sys.executable, "-m", "noetl_ib_plugin.cli", *args], env=process_env(),
                            stdin=subprocess.DEVNULL, **pipes)  # type: ignore[call-overload]
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    other = (proc.stderr if stream == "stdout" else proc.stdout).read()
    code = proc.wait(timeout=60)
    tty = b"".join(chunks).decode().replace("\r\n", "\n")
    return (code, tty, other.decode()) if stream == "stdout" else (code, other.decode(), tty)


def test_terminal_stdout_is_indented_json_of_the_same_result(sim_env: Simulator) -> None:
    """On a TTY the result is indented over several lines and parses to what a pipe gets."""
    piped = one_json(cli("run", "accounts", "--credential", "sim_oauth2").stdout)
    code, out, _ = _on_terminal("run", "accounts", "--credential", "sim_oauth2", stream="stdout")
    assert code == 0
    assert out.startswith("{\n  \"accounts\": [") and json.loads(out) == piped


def test_terminal_error_is_the_message_then_the_fix_on_its_own_line(sim_env: Simulator) -> None:
    """On a TTY stderr reads: error (type, exit) with the field, then `fix: ...` alone on a line."""
    code, out, err = _on_terminal(*_BAD_SIDE, stream="stderr")
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert lines[0].startswith("error (InputError, exit 2): ") and "side" in lines[0]
    assert "Fix:" not in lines[0]
    assert lines[-1].startswith("fix: use one of the allowed values")


def test_piped_error_stays_one_json_line(sim_env: Simulator) -> None:
    """Piped, the same failure is today's single JSON line with the fix run into the message."""
    proc = cli(*_BAD_SIDE)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    error = json.loads(line)["error"]
    assert error["type"] == "InputError" and error["field"] == "side" and "Fix:" in error["message"]


def test_version_is_the_program_name_and_version() -> None:
    """`noetl-ib --version` prints `noetl-ib <version>` (pyproject's version), piped or not."""
    from noetl_ib_plugin import __version__

    proc = cli("--version")
    assert (proc.returncode, proc.stdout) == (0, f"noetl-ib {__version__}\n")
