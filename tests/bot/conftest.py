"""Fixtures for the bot client tests: the shared simulator and its OAUTH_* environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from noetl_ib_plugin.credentials.env_store import ENV_VARIABLES
from noetl_ib_plugin.simulator import Simulator

__all__ = ["bot_env"]


def env_for(simulator: Simulator, directory: Path) -> dict[str, str]:
    """The OAUTH_* variables a bot would export for the simulator's OAuth 1.0a user."""
    records = json.loads(simulator.credentials_file.read_text(encoding="utf-8"))["credentials"]
    data = next(r for r in records if r["name"] == "sim_oauth1a")["data"]
    directory.mkdir(parents=True, exist_ok=True)
    signature = directory / "private_signature.pem"
    encryption = directory / "private_encryption.pem"
    signature.write_text(data["signature_key"], encoding="utf-8")
    encryption.write_text(data["encryption_key"], encoding="utf-8")
    return {
        "OAUTH_CONSUMER_KEY": data["consumer_key"],
        "OAUTH_ACCESS_TOKEN": data["access_token"],
        "OAUTH_ACCESS_TOKEN_SECRET": data["access_token_secret"],
        "OAUTH_SIGNATURE_PATH": str(signature),
        "OAUTH_ENCRYPTION_PATH": str(encryption),
        "OAUTH_DH_PRIME": data["dh_prime"],
        "PAPER_TRADING": "true",
        "IBKR_API_BASE_URL": data["api_base_url"],
    }


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
