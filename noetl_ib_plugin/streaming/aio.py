"""`async for event in stream`: the thread-safe EventBuffer read from an asyncio loop.

No second machinery: the reader thread, the buffer, conflation and overflow are the sync
stream's. The loop never blocks: it takes what is waiting with `get(0)` and otherwise awaits
`EventBuffer.wait` in a worker thread (`asyncio.to_thread`), which consumes nothing, so a
cancelled `async for` loses no event. Each idle wait is bounded by `poll` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from .buffer import EventBuffer, StreamClosed
from .events import StreamEvent

__all__ = ["aiter_events"]


async def aiter_events(buffer: EventBuffer, error: Callable[[], BaseException | None],
                       poll: float = 0.5) -> AsyncIterator[StreamEvent]:
    """Events from `buffer` until the stream ends; then `error()` (why it stopped for good) is
    raised, or the iteration ends quietly after a clean close. StreamOverflow is raised as the
    sync iterator raises it."""
    while True:
        try:
            event = buffer.get(0)
        except StreamClosed:
            cause = error()
            if cause is not None:
                raise cause from None
            return
        if event is not None:
            yield event
            continue
        await asyncio.to_thread(buffer.wait, poll)
