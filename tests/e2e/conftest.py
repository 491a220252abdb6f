"""End-to-end fixtures: the CLI tests' fresh simulator per test."""

from tests.cli.fixtures import _fresh_runner_clients, sim

__all__ = ["_fresh_runner_clients", "sim"]
