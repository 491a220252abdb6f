"""Embedded IBKR Web API simulator: a real HTTP paper broker for tests, demos and benchmarks.

Independent of the rest of noetl_ib_plugin on purpose: it checks the client against the
protocol, not against shared code.
"""

from __future__ import annotations

from .app import Simulator
from .keys import SimKeys, generate_keys
from .shared import reset, shared_keys

__all__ = ["SimKeys", "Simulator", "generate_keys", "reset", "shared_keys"]
