"""Simulator fixtures for the reliability tests: the same per-module simulator the action tests use."""

from tests.client.simfix import module_sim, sim

__all__ = ["module_sim", "sim"]
