"""Fixtures for the bot client tests: the shared simulator and its OAUTH_* environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from noetl_ib_plugin.credentials.env_store import ENV_VARIABLES
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.env_exports import exports

__all__ = ["bot_env"]


def env_for(simulator: Simulator, directory: Path) -> dict[str, str]:
    """The OAUTH_* variables a bot would export for the simulator's OAuth 1.0a user."""
    directory.mkdir(parents=True, exist_ok=True)
    env = exports(simulator.credentials_file, directory)
    del env["NOETL_IB_CREDENTIALS"]
    return env


@pytest.fixture
def bot_env(sim_reset: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The simulator's OAUTH_* environment, exported for the test (and removed after)."""
    for var in (*ENV_VARIABLES.values(), "PAPER_TRADING", "OAUTH_REALM", "IBKR_ACCOUNT_ID",
                "IBKR_API_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    env = env_for(sim_reset, tmp_path / "keys")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
