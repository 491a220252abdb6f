"""`SettledSession` (a requests.Session reading its environment once per origin) and the
factories that give every session the total deadline, body cap and no-redirect rule."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from requests.auth import HTTPBasicAuth
from requests.cookies import extract_cookies_to_jar
from requests.hooks import dispatch_hook
from requests.sessions import preferred_clock
from requests.utils import get_auth_from_url

from .._version import __version__
from .deadline import DEFAULT_MAX_BYTES, DeadlineAdapter

__all__ = ["USER_AGENT", "SettledSession", "ensure_limits", "limited_session"]

USER_AGENT = f"noetl-ib-plugin/{__version__}"


@dataclass(frozen=True)
class _OriginEnv:
    """What `trust_env` means for one origin, read from the environment once."""

    proxies: dict[str, str]
    ca_bundle: str | None
    netrc: tuple[str, str] | None


_NO_ENV = _OriginEnv({}, None, None)

#: Prepared URLs kept per session (a bounded memo of `PreparedRequest.prepare_url`).
_URL_MEMO_SIZE = 512


def _sets_cookies(raw: Any) -> bool:
    """True when the answer carries Set-Cookie(2): without one, cookie extraction is a no-op."""
    original = getattr(raw, "_original_response", None)
    if not original:
        return False
    msg = original.msg
    return bool(msg.get_all("Set-Cookie") or msg.get_all("Set-Cookie2"))


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Stands in for "no auth" so that `requests` does not read ~/.netrc again; the URL's own
    `user:password@` still applies, as requests' `prepare_auth(None)` does."""
    url_auth = get_auth_from_url(request.url or "")
    return HTTPBasicAuth(*url_auth)(request) if any(url_auth) else request


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
    `send(..., allow_redirects=False)` through a `DeadlineAdapter` skips `Session.send`'s
    no-op parts (see `_send_direct`); anything else takes requests' own path.
    """

    def __init__(self) -> None:
        super().__init__()
        self._origin_env: dict[str, _OriginEnv] = {}
        self._url_memo: dict[str, tuple[str, tuple[str, str]]] = {}

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
            # requests' own environment merge reads the variables (proxies, NO_PROXY, the CA
            # bundle), as a plain Session does on every call; it adds the environment's proxies
            # to the dict it is given. This session only keeps the answer per origin.
            no_proxy = (self.proxies or {}).get("no_proxy")
            environ: dict[str, Any] = {"no_proxy": no_proxy} if no_proxy else {}
            merged = requests.Session.merge_environment_settings(
                self, url, environ, None, True, None)
            proxy = environ.get(parts.scheme, environ.get("all"))
            proxies = {parts.scheme: proxy} if isinstance(proxy, str) and proxy else {}
            verify = merged["verify"]
            ca_bundle = verify if isinstance(verify, str) and verify else None
            found = _OriginEnv(proxies, ca_bundle, requests.utils.get_netrc_auth(url))
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
        inputs). A session with its own `params` or `auth` takes the full path. A URL without
        `params` is prepared once per session (memo of up to 512 URLs), and an empty cookie
        jar adds no Cookie header without asking cookielib.
        """
        if self.params or self.auth is not None:
            return self.prepare_request(requests.Request(method, url, params=params, json=json))
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        url_auth = self._prepare_url(prepared, url, params)
        prepared.prepare_headers({k: v for k, v in self.headers.items() if v is not None})
        if len(self.cookies):  # an empty jar adds no Cookie header
            prepared.prepare_cookies(self.cookies)
        else:
            prepared._cookies = self.cookies  # type: ignore[attr-defined]  # as prepare_cookies sets it
        prepared.prepare_body(None, None, json)
        auth = self.environment_for(url).netrc if self.trust_env else None
        if auth is None and any(url_auth):
            auth = url_auth
        if auth:
            prepared.prepare_auth(auth)
        prepared.prepare_hooks(self.hooks)
        return prepared

    def _prepare_url(self, prepared: requests.PreparedRequest, url: str, params: Any) -> tuple[str, str]:
        """`prepared.prepare_url(url, params)`, memoised per URL when there are no params;
        returns the URL's own credentials as `get_auth_from_url` reads them."""
        if params:
            prepared.prepare_url(url, params)
            return get_auth_from_url(prepared.url or "")
        found = self._url_memo.get(url)
        if found is None:
            prepared.prepare_url(url, {})
            found = (prepared.url or "", get_auth_from_url(prepared.url or ""))
            if len(self._url_memo) >= _URL_MEMO_SIZE:
                self._url_memo.clear()
            self._url_memo[url] = found
        prepared.url = found[0]
        return found[1]

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
        if kwargs.get("allow_redirects", True) or not isinstance(request,
                                                                  requests.PreparedRequest):
            return super().send(request, **kwargs)
        adapter = self.get_adapter(url)
        if not isinstance(adapter, DeadlineAdapter):
            return super().send(request, **kwargs)
        return self._send_direct(adapter, request, kwargs)

    def _send_direct(self, adapter: DeadlineAdapter, request: requests.PreparedRequest,
                     kwargs: dict[str, Any]) -> requests.Response:
        """`Session.send` for `allow_redirects=False` through a `DeadlineAdapter`, without its
        no-op parts: the redirect probe runs only for a 3xx a hook returned (the adapter refuses
        every 3xx and preloads the body), and cookies are extracted only from an answer that
        sets one (tests/client/test_settled_session.py proves the same results)."""
        kwargs.pop("allow_redirects")
        kwargs.setdefault("stream", self.stream)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.cert)
        start = preferred_clock()
        resp: requests.Response = adapter.send(request, **kwargs)
        resp.elapsed = timedelta(seconds=preferred_clock() - start)
        resp = dispatch_hook(  # type: ignore[no-untyped-call]
            "response", request.hooks, resp, **kwargs)
        for earlier in resp.history:
            extract_cookies_to_jar(  # type: ignore[no-untyped-call]
                self.cookies, earlier.request, earlier.raw)
        if _sets_cookies(resp.raw):
            extract_cookies_to_jar(self.cookies, request, resp.raw)  # type: ignore[no-untyped-call]
        if resp.is_redirect:
            resp._next = next(  # type: ignore[attr-defined]  # as Session.send does
                self.resolve_redirects(resp, request, yield_requests=True, **kwargs), None)
        if not kwargs["stream"]:
            resp.content  # noqa: B018 - reads the body, as Session.send does
        return resp

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


def ensure_limits(session: requests.Session, url: str, *, deadline: float | None = None) -> None:
    """Mount a `DeadlineAdapter` (total `deadline` seconds per call, default 45) for `url`'s
    scheme unless the session already has one.

    A session with a custom adapter of another kind is left alone (its owner chose it).
    """
    adapter = session.get_adapter(url)
    if isinstance(adapter, DeadlineAdapter) or type(adapter) is not requests.adapters.HTTPAdapter:
        return
    scheme = urlsplit(url).scheme
    session.mount(f"{scheme}://", DeadlineAdapter(deadline=deadline))
