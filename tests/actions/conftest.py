"""Fixtures for action tests (shared with the client tests)."""

from tests.client.simfix import module_sim, sim

__all__ = ["module_sim", "sim"]
