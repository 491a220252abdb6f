"""The one nesting bound on parsed JSON (base layer): an iterative walk, so no RecursionError.

Used where JSON from outside is trusted only within bounds: the CLI's `--args-json` and
`key=[...]` values (cli/_args.py) and token cache entries read from disk or the keychain
(auth/cache_entry.py).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["nests_within"]


def nests_within(value: Any, limit: int, *, finite_floats: bool = False) -> bool:
    """True when lists/objects in `value` nest at most `limit` deep (and, with `finite_floats`,
    no float is NaN or infinite); a scalar nests 0 deep."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if finite_floats and isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True
