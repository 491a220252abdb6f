"""Cold start budget: a warm-cache `noetl-ib run` imports only what its scheme and action need.

Every NoETL `kind: shell` step is a fresh process, so these pin the import graph (behaviour, not
timings, so they hold on any machine).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from noetl_ib_plugin.actions.spec import Action
from noetl_ib_plugin.errors import ConfigurationError
from noetl_ib_plugin.simulator import Simulator

from .helpers import cli, one_json, process_env

NEVER_ON_WARM_RUN = ("jwt", "cryptography", "noetl_ib_plugin.simulator", "noetl_ib_plugin.testing")
OTHER_ACTION_MODULES = (
    "noetl_ib_plugin.actions.orders",
    "noetl_ib_plugin.actions.marketdata",
    "noetl_ib_plugin.actions.contracts",
    "noetl_ib_plugin.actions.confirm",
)

_RUN_AND_LIST_MODULES = """
import json, sys
from noetl_ib_plugin.cli import main
rc = main(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "modules": sorted(sys.modules)}, fh)
"""


def _modules_after(tmp_path: Path, *argv: str) -> tuple[list[str], dict[str, object]]:
    """Run the CLI in a fresh process; return the modules it imported and its JSON result."""
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, str(report), *argv],
        capture_output=True,
        text=True,
        env=process_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(report.read_text())
    assert payload["rc"] == 0
    return payload["modules"], one_json(proc.stdout)


def _imported(modules: list[str], prefix: str) -> list[str]:
    return [m for m in modules if m == prefix or m.startswith(prefix + ".")]


@pytest.mark.parametrize("credential", ["sim_oauth2", "sim_oauth1a"])
def test_warm_run_imports_only_the_action_it_runs(
    sim_env: Simulator, tmp_path: Path, credential: str
) -> None:
    """A warm-cache `run get_positions` imports no jwt/cryptography, simulator or other action module."""
    warm = cli("run", "get_positions", "--credential", credential)
    assert warm.returncode == 0, warm.stderr
    modules, result = _modules_after(tmp_path, "run", "get_positions", "--credential", credential)
    assert result["positions"]
    assert "noetl_ib_plugin.actions.portfolio" in modules
    unexpected = [m for name in (*NEVER_ON_WARM_RUN, *OTHER_ACTION_MODULES) for m in _imported(modules, name)]
    assert not unexpected, f"warm run imported {unexpected}"


def test_registry_imports_no_action_module() -> None:
    """Collecting the registry registers every action without importing any action module."""
    code = (
        "import sys\n"
        "from noetl_ib_plugin.runner import default_host\n"
        "reg = default_host().registry\n"
        "assert {'place_order', 'get_positions', 'snapshot'} <= set(reg.actions)\n"
        "print([m for m in sys.modules if m.startswith(('noetl_ib_plugin.actions.', 'jwt', "
        "'cryptography', 'noetl_ib_plugin.simulator')) and m != 'noetl_ib_plugin.actions.spec'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_action_accepts_import_paths_and_resolves_them_on_first_use() -> None:
    """`Action(name, "mod:Model", "mod:func", ...)` resolves on access and stays a frozen dataclass."""
    lazy = Action("pos", "noetl_ib_plugin.actions.models:GetPositionsInput",
                  "noetl_ib_plugin.actions.portfolio:get_positions", "Positions.")
    before = hash(lazy)
    from noetl_ib_plugin.actions.models import GetPositionsInput
    from noetl_ib_plugin.actions.portfolio import get_positions

    assert lazy.input_model is GetPositionsInput and lazy.run is get_positions
    assert hash(lazy) == before and lazy == Action(
        "pos", "noetl_ib_plugin.actions.models:GetPositionsInput",
        "noetl_ib_plugin.actions.portfolio:get_positions", "Positions.")
    with pytest.raises(AttributeError):
        lazy.name = "other"  # type: ignore[misc]
    assert dataclasses.replace(lazy, name="pos2").input_model is GetPositionsInput
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        Action("bad", "no_colon_here", get_positions, "Bad.")
    missing = Action("gone", "noetl_ib_plugin.actions.models:NoSuchModel", get_positions, "Gone.")
    with pytest.raises(ConfigurationError, match="gone"):
        _ = missing.input_model
