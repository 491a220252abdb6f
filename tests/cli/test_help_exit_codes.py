"""`noetl-ib --help` names every exit code a script may branch on, 6 included."""

from __future__ import annotations

import re

import pytest

from noetl_ib_plugin.cli import main


def test_help_lists_exit_6_outcome_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 6 (order outcome unknown: look it up, do not retry) is in the help's exit-code list."""
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    listed = text.split("exit codes:", 1)[1].split("credentials:", 1)[0]
    assert [int(n) for n in re.findall(r"\b(\d) [a-z]", listed)] == [0, 1, 2, 3, 4, 5, 6]
    assert "6 order outcome unknown" in listed
    assert "client_order_id" in listed
