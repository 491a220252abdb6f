"""A strict stand-in for the parts of `noetl-server` a python step talks to: credentials, keychain.

Source of truth: ../shared/noetl.md (sections "Distributed runtime" and "Credentials"), itself read
from NoETL's public sources (noetl/server: the credential and keychain routes; the keychain
request/response types `KeychainSetRequest`, `KeychainGetResponse`). Written from that contract,
not from NoETL's code. It runs on loopback over real HTTP and rejects shapes the contract does
not document (unknown query parameters or body keys, non-integer ids), so a client that drifts
from the API fails here instead of in production. Values are kept in memory, not encrypted.

Routes:
- ``POST /api/credentials`` ``{name, type, data, meta?, tags?, description?}`` (other keys ignored)
- ``GET /api/credentials/{name}?include_data=true[&execution_id=<int>]`` -> the record with `id`
  as a string, `data` only with include_data; 404 ``{"detail"}`` when unknown
- ``GET|POST|DELETE /api/keychain/{catalog_id}/{name}?scope_type=&execution_id=``; POST
  ``{data, scope_type=global, execution_id?, expires_at? | expires_in?, auto_renew?,
  renew_config?}`` -> ``{status: "ok", cache_key, expires_at}``; GET -> ``{status: found, data,
  expires_at, access_count}`` | ``{status: expired}`` | ``{status: not_found}``
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["NoetlServer"]

_SCOPES = {"local", "shared", "global"}
_SET_KEYS = {"data", "scope_type", "execution_id", "expires_at", "expires_in", "auto_renew",
             "renew_config"}


class Reject(Exception):
    """A request outside the documented shapes: answered 4xx with a reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _int_id(value: str, what: str) -> int:
    """NoETL ids are int64; anything else is a 400 (the real server fails to parse it too)."""
    if not value.isdigit():
        raise Reject(400, f"{what} must be an integer id, got {value!r}")
    return int(value)


@dataclass
class _Entry:
    data: Any
    expires_at: float | None
    access_count: int = 0


@dataclass
class NoetlServer:
    """The stand-in; `start()` binds 127.0.0.1 on a free port, `url` is its base URL."""

    clock: Callable[[], float] = time.time
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    keychain: dict[tuple[int, str, str, int | None], _Entry] = field(default_factory=dict)
    #: Count per "METHOD route" (route: credentials or keychain).
    calls: Counter[str] = field(default_factory=Counter)
    #: Every keychain POST body, in arrival order (for secret checks).
    keychain_posts: list[dict[str, Any]] = field(default_factory=list)
    #: The query strings of credential GETs, to check execution_id is passed.
    credential_queries: list[dict[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def register(self, record: dict[str, Any]) -> None:
        """What `noetl register credential -f file.json` does (POST /api/credentials)."""
        self._set_credential(record)

    def start(self) -> NoetlServer:
        """Serve in a daemon thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet: tests read counters, not logs."""

            def _handle(self, method: str) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    status, body = server.dispatch(method, self.path, raw)
                except Reject as exc:
                    status, body = exc.status, {"detail": exc.detail}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the listener down."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- routing -------------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        """Route one request; raises Reject for anything outside the contract."""
        parts = urlsplit(path)
        query = parse_qs(parts.query, keep_blank_values=True)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                raise Reject(400, "body is not JSON") from None
        if segments[:2] == ["api", "credentials"]:
            with self.lock:
                self.calls[f"{method} credentials"] += 1
            if method == "POST" and len(segments) == 2:
                return 200, self._set_credential(body)
            if method == "GET" and len(segments) == 3:
                return self._get_credential(segments[2], query)
        if segments[:2] == ["api", "keychain"] and len(segments) == 4:
            with self.lock:
                self.calls[f"{method} keychain"] += 1
            catalog = _int_id(segments[2], "catalog_id")
            return self._keychain(method, catalog, segments[3], query, body)
        raise Reject(404, f"no route {method} {parts.path}")

    # -- credentials ---------------------------------------------------------------------------

    def _set_credential(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Reject(422, "credential must be an object")
        for key in ("name", "type"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise Reject(422, f"{key} is required")
        if not isinstance(body.get("data"), dict):
            raise Reject(422, "data must be an object")
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat()
        with self.lock:
            number = len(self.credentials) + 1
            record = {
                "id": str(470000000000000000 + number), "name": body["name"], "type": body["type"],
                "description": body.get("description"), "tags": body.get("tags") or [],
                "meta": body.get("meta") or {}, "data": body["data"],
                "created_at": now, "updated_at": now,
            }
            self.credentials[body["name"]] = record
        return {k: v for k, v in record.items() if k != "data"}

    def _get_credential(self, name: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        unknown = set(query) - {"include_data", "execution_id"}
        if unknown:
            raise Reject(400, f"unknown query parameters {sorted(unknown)}")
        if "execution_id" in query:
            _int_id(query["execution_id"][0], "execution_id")
        with self.lock:
            self.credential_queries.append(query)
            record = self.credentials.get(name)
        if record is None:
            return 404, {"detail": f"credential {name!r} not found"}
        include = query.get("include_data", ["false"])[0].lower() == "true"
        return 200, record if include else {k: v for k, v in record.items() if k != "data"}

    # -- keychain ------------------------------------------------------------------------------

    def _scope(self, query: dict[str, list[str]], body: dict[str, Any] | None) -> tuple[str, int | None]:
        unknown = set(query) - {"scope_type", "execution_id"}
        if unknown:
            raise Reject(400, f"unknown query parameters {sorted(unknown)}")
        scope = (body or {}).get("scope_type") or query.get("scope_type", ["global"])[0]
        if scope not in _SCOPES:
            raise Reject(400, f"scope_type must be one of {sorted(_SCOPES)}")
        raw_exec = (body or {}).get("execution_id")
        if raw_exec is None and "execution_id" in query:
            raw_exec = _int_id(query["execution_id"][0], "execution_id")
        if raw_exec is not None and not isinstance(raw_exec, int):
            raise Reject(422, "execution_id must be an integer")
        if scope != "global" and raw_exec is None:
            raise Reject(400, f"execution_id is required for scope_type {scope}")
        return scope, (raw_exec if scope != "global" else None)

    def _keychain(
        self, method: str, catalog: int, name: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "POST":
            if not isinstance(body, dict) or "data" not in body:
                raise Reject(422, "body must be an object with data")
            unknown = set(body) - _SET_KEYS
            if unknown:
                raise Reject(422, f"unknown fields {sorted(unknown)}")
            if body.get("expires_in") is not None and not isinstance(body["expires_in"], int):
                raise Reject(422, "expires_in must be an integer number of seconds")
        scope, execution = self._scope(query, body if method == "POST" else None)
        key = (catalog, name, scope, execution)
        now = self.clock()
        with self.lock:
            if method == "POST":
                self.keychain_posts.append(body)
                expires_at = now + body["expires_in"] if body.get("expires_in") is not None else None
                self.keychain[key] = _Entry(body["data"], expires_at)
                return 200, {"status": "ok", "cache_key": f"{catalog}:{name}:{scope}",
                             **({"expires_at": _iso(expires_at)} if expires_at else {})}
            if method == "DELETE":
                found = self.keychain.pop(key, None)
                return 200, {"status": "deleted" if found else "not_found", "cache_key": name}
            if method == "GET":
                entry = self.keychain.get(key)
                if entry is None:
                    return 200, {"status": "not_found"}
                if entry.expires_at is not None and entry.expires_at <= now:
                    return 200, {"status": "expired", "expires_at": _iso(entry.expires_at)}
                entry.access_count += 1
                out = {"status": "found", "data": entry.data, "access_count": entry.access_count}
                if entry.expires_at is not None:
                    out["expires_at"] = _iso(entry.expires_at)
                return 200, out
        raise Reject(405, f"{method} is not allowed here")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
