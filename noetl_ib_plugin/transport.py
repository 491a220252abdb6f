"""HTTP transport limits every call shares: a total deadline, a body-size cap, no redirects.

`requests` only bounds each socket read, so a server that drips one byte every few seconds
can hold a call forever. `DeadlineAdapter` arms a watchdog per request that shuts the socket
down when the call's total deadline passes (headers or body), reads the body itself under a
byte cap, and refuses every 3xx instead of following it (credentials never travel to another
origin). Every request and answer is logged at DEBUG without headers, query or body.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._version import __version__
from .errors import ConfigurationError, RedirectRefused, ResponseTooLarge

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
    "DeadlineAdapter",
    "DeadlineExceeded",
    "RedirectRefused",
    "ResponseTooLarge",
    "SettledSession",
    "ensure_limits",
    "json_body",
    "limited_session",
    "origin",
]

log = logging.getLogger(__name__)

USER_AGENT = f"noetl-ib-plugin/{__version__}"
#: Seconds one HTTP attempt may take from sending to the last body byte (env NOETL_IB_HTTP_DEADLINE).
DEFAULT_DEADLINE = 45.0
#: Largest body (after decompression) read from any server: 16 MiB.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
ENV_DEADLINE = "NOETL_IB_HTTP_DEADLINE"
_CHUNK = 64 * 1024


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole call outlived its total deadline; its socket was shut down."""


def json_body(resp: requests.Response) -> Any:
    """`resp.json()`, where nesting past the recursion limit is a ValueError like any bad JSON.

    A hostile or broken server can send `[[[[...]]]]` 100k deep in 200 KB (under every cap);
    Python's json raises RecursionError for it, which callers that catch ValueError would miss.
    """
    try:
        return resp.json()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


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


def _loggable(url: str | None) -> str:
    """Origin and path only: the query and userinfo never reach a log line."""
    if not url:
        return "?"
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return origin(url) + path


class _LazyWhere:
    """`_loggable(url)` computed only when a message needs it (keeps the hot path cheap)."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def __str__(self) -> str:
        return _loggable(self.url)


def env_deadline() -> float:
    """`NOETL_IB_HTTP_DEADLINE` in seconds (1..600), else DEFAULT_DEADLINE."""
    raw = os.environ.get(ENV_DEADLINE, "").strip()
    if not raw:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 1.0 <= value <= 600.0):
        raise ConfigurationError(
            f"{ENV_DEADLINE}={raw[:20]!r} is not a number of seconds between 1 and 600",
            field=ENV_DEADLINE,
            fix=f"unset {ENV_DEADLINE} to use {DEFAULT_DEADLINE:g} s, or give e.g. 30.",
        )
    return value


class _Watch:
    """The connections one call uses; `fire()` shuts their sockets down from the watchdog thread."""

    def __init__(self) -> None:
        self.fired = False
        #: Set when the call ended; the watchdog then drops the entry without firing.
        self.done = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)
            if self.fired:
                _shutdown(conn)

    def finish(self) -> None:
        """The call is over: its connection may go back to the pool, so never fire after this."""
        with self._lock:
            self.done = True

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            for conn in self._conns:
                _shutdown(conn)


class _Watchdog:
    """One daemon thread for all deadlines of the process (a thread per call would cost ~0.2 ms)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def reset_after_fork(self) -> None:
        """A forked child starts clean: the parent's lock may have been held at fork time."""
        self._cond = threading.Condition()
        self._heap = []
        self._thread = None

    def arm(self, watch: _Watch, seconds: float) -> None:
        """Fire `watch` after `seconds` unless it is marked done first."""
        entry = (time.monotonic() + seconds, next(self._seq), watch)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():  # first use, or after fork
                self._thread = threading.Thread(target=self._run, name="noetl-ib-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, watch = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            watch.fire()


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog.reset_after_fork)


def _shutdown(conn: Any) -> None:
    """Unblock any thread reading this connection; the plain-socket call avoids racing TLS state."""
    sock = conn if isinstance(conn, socket.socket) else getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()


def _watch_socket(conn: Any) -> None:
    """Register the socket itself: http.client hands it to a `Connection: close` response and
    sets `conn.sock` to None, which would leave a dripping body out of the deadline's reach."""
    watch = getattr(_current, "watch", None)
    if watch is not None and isinstance(conn.sock, socket.socket):
        watch.add(conn.sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Registers its socket with the calling thread's watchdog before reading an answer."""

    def getresponse(self) -> Any:
        _watch_socket(self)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    """HTTPS twin of `_WatchedHTTPConnection`."""

    def getresponse(self) -> Any:
        _watch_socket(self)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    """Registers each connection it uses with the calling thread's watchdog."""

    ConnectionCls = _WatchedHTTPConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.add(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    """HTTPS twin of `_WatchedHTTPPool`."""

    ConnectionCls = _WatchedHTTPSConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.add(conn)
        return super()._make_request(conn, *args, **kwargs)


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter with a total deadline per call, a body cap and no redirects.

    `deadline` (seconds, default `NOETL_IB_HTTP_DEADLINE` or 45) bounds one attempt from the
    first byte sent to the last byte read; `max_bytes` bounds the decoded body. The body is
    always read before `send` returns (a `stream=True` caller gets it preloaded).
    Raises `DeadlineExceeded` (a `requests.ReadTimeout`), `ResponseTooLarge` or `RedirectRefused`.
    """

    def __init__(
        self,
        *,
        deadline: float | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        **kwargs: Any,
    ) -> None:
        self.deadline = env_deadline() if deadline is None else deadline
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def send(  # noqa: PLR0917 - requests calls it with this signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        debug = log.isEnabledFor(logging.DEBUG)
        where = _loggable(request.url) if debug else _LazyWhere(request.url)
        watch = _Watch()
        previous = getattr(_current, "watch", None)
        _current.watch = watch
        started = time.monotonic()
        if debug:
            log.debug("HTTP %s %s", request.method, where)
        _watchdog.arm(watch, self.deadline)
        try:
            try:
                resp = super().send(request, stream=True, timeout=timeout, verify=verify,
                                    cert=cert, proxies=proxies)
                if resp.is_redirect or 300 <= resp.status_code < 400:
                    resp.close()
                    raise RedirectRefused(
                        f"{request.method} {where}: HTTP {resp.status_code} redirect to "
                        f"{origin(resp.headers.get('Location') or '')} was not followed",
                        status=resp.status_code,
                        fix="configure the final URL of the endpoint; redirects are never "
                        "followed so that credentials cannot be sent to another origin.",
                    )
                body = self._read_capped(resp, request, where, watch)
            except requests.RequestException:
                if watch.fired:
                    raise DeadlineExceeded(
                        f"{request.method} {where}: no complete answer within the total "
                        f"deadline of {self.deadline:g} s",
                        request=request,
                    ) from None
                raise
            if watch.fired:
                resp.close()
                raise DeadlineExceeded(
                    f"{request.method} {where}: no complete answer within the total deadline "
                    f"of {self.deadline:g} s",
                    request=request,
                )
        finally:
            watch.finish()
            _current.watch = previous
        resp._content = body
        resp._content_consumed = True  # type: ignore[attr-defined]
        if debug:
            log.debug("HTTP %s %s -> %s, %d bytes in %.0f ms", request.method, where,
                      resp.status_code, len(body), (time.monotonic() - started) * 1000)
        return resp

    def _read_capped(self, resp: requests.Response, request: requests.PreparedRequest,
                     where: object, watch: _Watch) -> bytes:
        """The decoded body, at most `max_bytes`; the connection goes back to the pool."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(_CHUNK):
                if watch.fired:  # the socket was shut down; stop at once
                    raise requests.exceptions.ConnectionError("total deadline passed")
                size += len(chunk)
                if size > self.max_bytes:
                    raise ResponseTooLarge(
                        f"{request.method} {where}: answer larger than {self.max_bytes} bytes; "
                        "reading stopped",
                        status=resp.status_code,
                        fix="check that the URL points at the intended API; its answers are "
                        "never this large.",
                    )
                chunks.append(chunk)
        finally:
            watch.finish()  # before the connection can be handed to another call
            resp.close()
        return b"".join(chunks)


@dataclass(frozen=True)
class _OriginEnv:
    """What `trust_env` means for one origin, read from the environment once."""

    proxies: dict[str, str]
    ca_bundle: str | None
    netrc: tuple[str, str] | None


_NO_ENV = _OriginEnv({}, None, None)


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Stands in for "no auth" so that `requests` does not read ~/.netrc again."""
    return request


class SettledSession(requests.Session):
    """A `requests.Session` that reads its environment once per origin, not on every call.

    With `trust_env` (the default) a plain Session rescans `os.environ` for proxy variables
    twice per request and reads `~/.netrc` on every call, so its CPU cost grows with the size
    of the environment. This session gives `trust_env` the same meaning -- HTTP(S)_PROXY /
    ALL_PROXY / NO_PROXY (and `proxies["no_proxy"]`), REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when
    `verify` is True, and `~/.netrc` (or $NETRC) credentials when a request has no auth -- but
    resolves them the first time it talks to an origin (`scheme://host:port`) and keeps the
    answer for its lifetime: a changed environment needs a new session. The CA bundle also
    applies to `send()` of a prepared request (plain requests applies it only in `request()`).
    Set `trust_env = False` to ignore the environment entirely, as with requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._origin_env: dict[str, _OriginEnv] = {}

    def environment_for(self, url: str) -> _OriginEnv:
        """The proxy, CA bundle and netrc settings for `url`'s origin (read once, then kept)."""
        if not self.trust_env:
            return _NO_ENV
        try:
            parts = urlsplit(url)
            key = f"{parts.scheme}://{parts.netloc}".lower()
        except ValueError:
            return _NO_ENV
        found = self._origin_env.get(key)
        if found is None:
            utils = requests.utils
            no_proxy = (self.proxies or {}).get("no_proxy")
            proxies: dict[str, str] = {}
            if not utils.should_bypass_proxies(url, no_proxy=no_proxy):
                environ = utils.get_environ_proxies(url, no_proxy=no_proxy)
                proxy = environ.get(parts.scheme, environ.get("all"))
                if proxy:
                    proxies[parts.scheme] = proxy
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = _OriginEnv(proxies, ca_bundle or None, utils.get_netrc_auth(url))
            self._origin_env[key] = found
        return found

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """As requests does, with the netrc credentials read once per origin."""
        if self.trust_env and not request.auth and not self.auth:
            request = copy.copy(request)
            request.auth = self.environment_for(request.url or "").netrc or _no_auth
        return super().prepare_request(request)

    def prepare(self, method: str, url: str, *, params: Any = None,
                json: Any = None) -> requests.PreparedRequest:
        """`prepare_request(Request(method, url, params=params, json=json))`, with less work.

        Skips the generic merging (session params, session auth, per-request headers and
        cookies): with none of those set, the result is the same request (method, URL,
        headers, body, hooks; tests/client/test_settled_session.py proves it over generated
        inputs). A session with its own `params` or `auth` takes the full path.
        """
        if self.params or self.auth is not None:
            return self.prepare_request(requests.Request(method, url, params=params, json=json))
        auth = self.environment_for(url).netrc if self.trust_env else None
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method.upper(),
            url=url,
            headers={k: v for k, v in self.headers.items() if v is not None},
            params=params if params is not None else {},
            json=json,
            auth=auth,
            cookies=self.cookies,
            hooks=self.hooks,
        )
        return prepared

    def _env_proxies(self, url: str, given: Any) -> dict[str, str]:
        """Explicit proxies first, then the session's, then the environment's for this origin."""
        merged = dict(self.proxies or {})
        merged.update(given or {})
        for scheme, proxy in self.environment_for(url).proxies.items():
            merged.setdefault(scheme, proxy)
        return {k: v for k, v in merged.items() if v is not None}  # None opts out, as in requests

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """As requests does, with proxies and CA bundle from this origin's settled environment."""
        url = request.url or ""
        if "proxies" not in kwargs:
            kwargs["proxies"] = self._env_proxies(url, None)
        if "verify" not in kwargs and (self.verify is True or self.verify is None):
            kwargs["verify"] = self.environment_for(url).ca_bundle or self.verify
        return super().send(request, **kwargs)

    def merge_environment_settings(  # type: ignore[override]  # stubs say a TypedDict
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """`Session.request()`'s merge, from the settled environment instead of a rescan."""
        text = url.decode() if isinstance(url, bytes) else (url or "")
        if verify is True or verify is None:
            verify = self.environment_for(text).ca_bundle or verify
        return {
            "proxies": self._env_proxies(text, proxies),
            "stream": self.stream if stream is None else stream,
            "verify": self.verify if verify is None else verify,
            "cert": self.cert if cert is None else cert,
        }


def limited_session(*, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                    pool_maxsize: int = 10) -> SettledSession:
    """A `SettledSession` whose http(s) calls all go through a `DeadlineAdapter`."""
    sess = SettledSession()
    adapter = DeadlineAdapter(deadline=deadline, max_bytes=max_bytes, pool_connections=4,
                              pool_maxsize=pool_maxsize)
    sess.mount("https://", adapter)
    sess.mount("http://", adapter)
    sess.headers["User-Agent"] = USER_AGENT
    return sess


def ensure_limits(session: requests.Session, url: str) -> None:
    """Mount a `DeadlineAdapter` for `url`'s scheme unless the session already has one.

    A session with a custom adapter of another kind is left alone (its owner chose it).
    """
    adapter = session.get_adapter(url)
    if isinstance(adapter, DeadlineAdapter) or type(adapter) is not requests.adapters.HTTPAdapter:
        return
    scheme = urlsplit(url).scheme
    session.mount(f"{scheme}://", DeadlineAdapter())
