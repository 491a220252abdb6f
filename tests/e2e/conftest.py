"""End-to-end tests: each test starts with fresh runner clients (tests/fixtures/cli_env.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _e2e_hygiene(fresh_runner_clients: None) -> None:
    """No in-process run reuses a client (and its token) from another test's simulator."""
