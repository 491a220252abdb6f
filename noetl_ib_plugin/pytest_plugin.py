"""pytest plugin (entry point `pytest11`): the `ib_simulator` fixture for downstream test suites.

Installed with the package, pytest loads this module by itself, so a downstream project's tests
can just ask for ``ib_simulator``: a started IBKR simulator per test (pacing off, throw-away
keys), whose ``credentials_file`` holds ``sim_oauth2`` and ``sim_oauth1a`` records pointing at
it. Only pytest imports this module; the core package never does, and the simulator itself is
imported when a test first asks for the fixture. Disable with ``-p no:noetl_ib``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["ib_simulator"]


@pytest.fixture
def ib_simulator(tmp_path: Path) -> Iterator[Simulator]:
    """A started simulator with pacing off, its state and credentials.json in the test's tmp_path."""
    from .testing import running_simulator

    with running_simulator(pacing=False, state_dir=tmp_path / "ibsim") as sim:
        yield sim
