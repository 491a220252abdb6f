"""Fixtures for client tests."""

from .simfix import module_sim, sim

__all__ = ["module_sim", "sim"]
