"""Which NoETL step is running: execution id, step name, server URL, catalog id.

`noetl_ib_plugin.entry.main` sets it for the duration of one step. Only the front doors read it
(`runner.get_client` hands it to `Host.client`, which picks the step's token cache: the NoETL
keychain layer of `auth/keychain_cache.py`); layers below receive what they need as arguments.
A thread started inside a step sees it only if started in a copy of the context (the keepalive).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["StepContext", "current_step", "running_step"]


@dataclass(frozen=True)
class StepContext:
    """What the NoETL worker told the step (stdin JSON and its `variables`); every field optional.

    `execution_id` and `catalog_id` are NoETL's int64 ids as strings; `server_url` is the
    `noetl-server` the step came from, e.g. ``http://noetl:8082`` (no trailing slash).
    """

    execution_id: str | None = None
    step: str | None = None
    server_url: str | None = None
    catalog_id: str | None = None


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "noetl_ib_step", default=None
)


def current_step() -> StepContext | None:
    """The step being run by `entry.main` in this thread or task, or None outside a step."""
    return _CURRENT.get()


@contextlib.contextmanager
def running_step(context: StepContext) -> Iterator[StepContext]:
    """Make `context` current until the block exits (context-local, so threads do not mix)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
