"""NOETL_IB_ERROR_LOG pointing at a FIFO or a directory never hangs or breaks the error report."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from noetl_ib_plugin.cli import main


def _run_in_thread(argv: list[str]) -> tuple[threading.Thread, list[int]]:
    """Run the CLI in a daemon thread; a hang leaves the thread alive instead of the test stuck."""
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(argv)), daemon=True)
    thread.start()
    thread.join(timeout=60.0)
    return thread, codes


def test_error_log_fifo_without_reader_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO nobody reads as NOETL_IB_ERROR_LOG: the error is still reported and the CLI exits."""
    fifo = tmp_path / "errors.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("NOETL_IB_ERROR_LOG", str(fifo))
    thread, codes = _run_in_thread(["run", "no_such_action", "--credential", "ib"])
    assert not thread.is_alive(), "the CLI blocked opening the error log"
    assert codes == [2]
    err = capsys.readouterr().err
    reports = [json.loads(line) for line in err.splitlines() if line.startswith('{"error"')]
    assert [r["error"]["field"] for r in reports] == ["action"]


def test_error_log_that_is_a_directory_still_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory as NOETL_IB_ERROR_LOG: a warning, and the error still reaches stderr with exit 2."""
    monkeypatch.setenv("NOETL_IB_ERROR_LOG", str(tmp_path))
    thread, codes = _run_in_thread(["run", "no_such_action", "--credential", "ib"])
    assert not thread.is_alive() and codes == [2]
    assert '"field":"action"' in capsys.readouterr().err
