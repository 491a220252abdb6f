"""Plumbing shared by the route modules: an HTTP-level error and the response value they return."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["ApiError", "Request", "Response"]


class ApiError(Exception):
    """Abort a request with this status and JSON body (IBKR's error shapes)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Response:
    """What a route produces; the server serialises it with a Content-Length, once."""

    status: int
    body: Any
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """A parsed HTTP request as the routes see it (raw path, raw query, lower-cased headers)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    #: The caller's address as the server saw it (checked against the SSO `ip` claim).
    client_ip: str = ""

    def header(self, name: str) -> str:
        """Header value or "" (names are case-insensitive)."""
        return self.headers.get(name.lower(), "")

    def params(self) -> dict[str, str]:
        """Query parameters, last value wins."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json(self) -> Any:
        """The JSON body ({} when empty); a 400 like IBKR's when it does not parse."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, {"error": "Bad Request: invalid JSON body", "statusCode": 400}) \
                from None
