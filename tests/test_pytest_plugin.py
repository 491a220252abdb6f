"""The `ib_simulator` fixture reaches downstream suites through the `pytest11` entry point."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

DOWNSTREAM_TEST = '''
import json


def test_downstream_gets_a_running_simulator(ib_simulator):
    """Written as a downstream project would: no conftest, no import of the fixture."""
    records = json.loads(ib_simulator.credentials_file.read_text())["credentials"]
    assert {r["name"] for r in records} == {"sim_oauth2", "sim_oauth1a"}
    assert ib_simulator.url.startswith("http://127.0.0.1:")
'''


def _clean_env() -> dict[str, str]:
    """The environment without PYTEST_ADDOPTS/PYTEST_PLUGINS the outer run may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


def test_entry_point_is_declared() -> None:
    """The installed distribution names pytest_plugin under pytest11."""
    found = [e.value for e in importlib.metadata.entry_points(group="pytest11")
             if e.value.startswith("noetl_ib_plugin")]
    assert found == ["noetl_ib_plugin.pytest_plugin"]


def test_plain_pytest_run_in_a_temp_dir_can_use_the_fixture(tmp_path: Path) -> None:
    """A fresh pytest process in an empty directory finds ib_simulator by the entry point alone."""
    (tmp_path / "test_downstream.py").write_text(textwrap.dedent(DOWNSTREAM_TEST))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_downstream.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=_clean_env(), check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_plugin_can_be_switched_off(tmp_path: Path) -> None:
    """`-p no:noetl_ib` removes the fixture: the same test then errors on a missing fixture."""
    (tmp_path / "test_downstream.py").write_text(textwrap.dedent(DOWNSTREAM_TEST))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:noetl_ib",
         "test_downstream.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=_clean_env(), check=False,
    )
    assert done.returncode != 0 and "fixture 'ib_simulator' not found" in done.stdout


def test_core_works_without_pytest() -> None:
    """Without pytest the core, CLI and running_simulator import, and they never import pytest."""
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import noetl_ib_plugin, noetl_ib_plugin.cli, noetl_ib_plugin.entry\n"
        "from noetl_ib_plugin.testing import running_simulator\n"
        "assert not hasattr(sys.modules['noetl_ib_plugin.testing'], 'ib_simulator')\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=_clean_env(), check=False)
    assert done.stdout.strip() == "ok", done.stderr
    probe = ("import sys, noetl_ib_plugin, noetl_ib_plugin.cli, noetl_ib_plugin.entry; "
             "print('pytest' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, env=_clean_env(), check=False)
    assert done.stdout.strip() == "False", done.stderr
