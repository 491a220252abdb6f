"""At most N `/iserver/marketdata/history` requests in flight per credential, across processes.

IBKR allows 5 concurrent history requests per username (Web API pacing; ibkr-web-api.md s.9);
a sixth answers 429. Every process of one credential holds one of N slot files in the token
cache directory with `file_lock` while its request is in flight; a process that finds every slot
held polls until one frees or its wait times out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..common.file_lock import file_lock
from ..errors import TransientError

__all__ = ["history_slot"]


@contextlib.contextmanager
def history_slot(
    directory: Path,
    key: str,
    *,
    slots: int,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.02,
) -> Iterator[int]:
    """Hold one of `slots` slot files `{key}-history-{i}.lock` in `directory` (yields i).

    Raises TransientError when none freed within `timeout` seconds; ConfigurationError (from
    `file_lock`) for a slot file this user cannot trust.
    """
    deadline = clock() + timeout
    with contextlib.ExitStack() as held:
        while True:
            for index in range(slots):
                try:
                    held.enter_context(file_lock(directory / f"{key}-history-{index}.lock",
                                                 timeout=0.0))
                except TransientError:
                    continue  # another thread or process holds this slot
                yield index
                return
            if clock() >= deadline:
                raise TransientError(
                    f"no history slot free after {timeout:.0f}s (IBKR allows {slots} "
                    "concurrent history requests per credential, across processes)",
                    fix="request fewer histories at once, or retry later.",
                )
            sleep(poll)
