"""Decoding an answer's body: JSON where too-deep nesting is just bad JSON."""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["json_body"]


def json_body(resp: requests.Response) -> Any:
    """`resp.json()`, where nesting past the recursion limit is a ValueError like any bad JSON.

    A hostile or broken server can send `[[[[...]]]]` 100k deep in 200 KB (under every cap);
    Python's json raises RecursionError for it, which callers that catch ValueError would miss.
    """
    try:
        return resp.json()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
