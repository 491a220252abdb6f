"""Warm server tests: the `warm` fixture (warmfix.py), fresh runner clients and logging per test."""

from __future__ import annotations

import pytest

from .warmfix import warm

__all__ = ["warm"]


@pytest.fixture(autouse=True)
def _warm_hygiene(fresh_runner_clients: None, restore_root_logging: None) -> None:
    """Both hygiene fixtures (tests/fixtures/cli_env.py) for every warm server test."""
