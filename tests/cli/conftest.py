"""CLI tests: each test starts with fresh runner clients and the root logger restored after it."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _cli_hygiene(fresh_runner_clients: None, restore_root_logging: None) -> None:
    """Both hygiene fixtures (tests/fixtures/cli_env.py) for every CLI test."""
