"""Warm server fixtures (warmfix.py) plus the simulator of the CLI tests."""

from ..cli.fixtures import _fresh_runner_clients, _restore_root_logging, sim
from .warmfix import warm

__all__ = ["_fresh_runner_clients", "_restore_root_logging", "sim", "warm"]
