"""CLI test fixtures (defined in fixtures.py, shared with tests/e2e)."""

from .fixtures import _fresh_runner_clients, _restore_root_logging, sim

__all__ = ["_fresh_runner_clients", "_restore_root_logging", "sim"]
