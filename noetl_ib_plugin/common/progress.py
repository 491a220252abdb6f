"""Telling a person what a wait is for: `Progress(what, seconds)`, called before a wait of a second or more.

A front door passes one in (the CLI writes a line on stderr); lower layers call it and never decide
where it goes. None means silent (a bot, a NoETL python step).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["NOTICE_SECONDS", "Progress", "announce"]

#: `Progress(what, seconds)`: about to wait `seconds` for `what` ("IBKR's pacing limit on GET ...").
Progress = Callable[[str, float], None]

#: Waits shorter than this pass unannounced.
NOTICE_SECONDS = 1.0


def announce(progress: Progress | None, what: str, seconds: float) -> None:
    """Call `progress` when there is one and the wait is long enough for a person to notice."""
    if progress is not None and seconds >= NOTICE_SECONDS:
        progress(what, seconds)
