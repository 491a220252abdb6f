"""URL helpers for messages and logs: the origin only, never userinfo or the query."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["LazyWhere", "loggable_url", "origin"]


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, without userinfo, path or query: safe for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def loggable_url(url: str | None) -> str:
    """Origin and path only: the query and userinfo never reach a log line."""
    if not url:
        return "?"
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return origin(url) + path


class LazyWhere:
    """`loggable_url(url)` computed only when a message needs it (keeps the hot path cheap)."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def __str__(self) -> str:
        return loggable_url(self.url)
