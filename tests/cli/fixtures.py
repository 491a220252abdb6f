"""Fixtures shared by the CLI and end-to-end tests: a fresh simulator per test and its environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl_ib_plugin import runtime
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A started simulator whose credentials file is what NOETL_IB_CREDENTIALS names."""
    with running_simulator(pacing=False, state_dir=tmp_path / "ibsim") as simulator:
        monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(simulator.credentials_file))
        yield simulator


@pytest.fixture(autouse=True)
def _fresh_runner_clients() -> Iterator[None]:
    """In-process runs must not reuse a client (and its token) from another test's simulator."""
    yield
    runtime.reset()


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """`main()` configures the root logger for its process; in-process tests must undo that."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
