"""Start-up work a one-shot `noetl-ib` step skips: pydantic's plugin scan (unless asked for)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noetl_ib_plugin.simulator import Simulator

from .helpers import cli, one_json, process_env


def _fake_pydantic_plugin(site: Path, marker: Path) -> None:
    """A distribution exposing a `pydantic` entry point whose import writes `marker`."""
    (site / "fake_pydantic_plugin.py").write_text(
        f"open({str(marker)!r}, 'w').write('loaded')\n"
        "class _P:\n    def new_schema_validator(self, *a, **k):\n        return None, None, None\n"
        "plugin = _P()\n"
    )
    info = site / "fake_pydantic_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pydantic-plugin\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nfake = fake_pydantic_plugin:plugin\n")


@pytest.mark.parametrize(("setting", "loaded"), [(None, False), ("", True)])
def test_pydantic_plugins_off_in_a_step_unless_the_variable_is_set(
    sim_env: Simulator, tmp_path: Path, setting: str | None, loaded: bool
) -> None:
    """A step loads no pydantic plugin unless PYDANTIC_DISABLE_PLUGINS is set (even empty)."""
    site, marker = tmp_path / "site", tmp_path / "loaded.txt"
    site.mkdir()
    _fake_pydantic_plugin(site, marker)
    env = process_env(PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    proc = cli("run", "get_positions", "--credential", "sim_oauth2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert one_json(proc.stdout)["positions"]
    assert marker.exists() is loaded
