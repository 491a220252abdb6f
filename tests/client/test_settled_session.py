"""SettledSession: proxies, CA bundle and ~/.netrc honoured as requests does, read once per origin."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noetl_ib_plugin.errors import RedirectRefused
from noetl_ib_plugin.transport import DeadlineAdapter, SettledSession, limited_session


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 `{}` and records the request line and Authorization header."""

    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization") or ""))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a loopback port for the block; yield its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A loopback HTTP server that records what reaches it."""
    seen: list[tuple[str, str]] = []
    with _serving(type("Rec", (_Recorder,), {"seen": seen})) as url:
        yield url, seen


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy or CA variables from the machine; an empty HOME (no ~/.netrc)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_http_proxy_from_environment_is_used(
    server: tuple[str, list[tuple[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY sends the call through the proxy (absolute-form request line), as requests does."""
    proxy, seen = server
    monkeypatch.setenv("HTTP_PROXY", proxy)
    sess = limited_session()
    assert isinstance(sess, SettledSession)
    prepared = sess.prepare_request(requests.Request("GET", "http://ibkr.invalid/v1/api/x"))
    assert sess.send(prepared, timeout=5).status_code == 200
    assert sess.get("http://ibkr.invalid/v1/api/y", timeout=5).status_code == 200
    assert [path for path, _ in seen] == ["http://ibkr.invalid/v1/api/x",
                                          "http://ibkr.invalid/v1/api/y"]


def test_no_proxy_bypasses_and_explicit_none_opts_out(
    server: tuple[str, list[tuple[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_PROXY naming the host goes direct; proxies={"http": None} also opts out."""
    url, seen = server
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert limited_session().get(url + "/direct", timeout=5).status_code == 200
    monkeypatch.delenv("NO_PROXY")
    sess = limited_session()
    opt_out: Any = {"http": None}
    assert sess.get(url + "/optout", timeout=5, proxies=opt_out).status_code == 200
    assert [path for path, _ in seen] == ["/direct", "/optout"]


def test_environment_is_read_once_per_origin(
    server: tuple[str, list[tuple[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy variable set after the session first used an origin does not change that origin."""
    url, seen = server
    sess = limited_session()
    assert sess.get(url + "/a", timeout=5).status_code == 200
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert sess.get(url + "/b", timeout=5).status_code == 200
    assert [path for path, _ in seen] == ["/a", "/b"]
    with pytest.raises(requests.ConnectionError):  # a new session sees the proxy
        limited_session().get(url + "/c", timeout=5)


def test_netrc_read_once_and_applied_only_without_auth(
    server: tuple[str, list[tuple[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~/.netrc credentials reach a request without auth; the file is read once per origin."""
    url, seen = server
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login alice password s3cret\n")
    (tmp_path / ".netrc").chmod(0o600)
    reads: list[str] = []
    real = requests.utils.get_netrc_auth

    def counting(u: str, raise_errors: bool = False) -> Any:
        reads.append(u)
        return real(u, raise_errors)

    monkeypatch.setattr(requests.utils, "get_netrc_auth", counting)
    sess = limited_session()
    for _ in range(3):
        sess.get(url + "/n", timeout=5)
    sess.get(url + "/own", timeout=5, headers={"Authorization": "Bearer T"}, auth=lambda r: r)
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert [auth for _, auth in seen] == [basic, basic, basic, "Bearer T"]
    assert len(reads) == 1


def test_ca_bundle_from_environment_reaches_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE becomes `verify` for send() and get(); verify=False stays False."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/custom-ca.pem")
    sess = SettledSession()
    seen: list[Any] = []

    class Spy(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, stream: bool = False,
                 timeout: Any = None, verify: Any = True, cert: Any = None,
                 proxies: Any = None) -> requests.Response:
            seen.append(verify)
            resp = requests.Response()
            resp.status_code, resp._content = 200, b"{}"
            return resp

    sess.mount("https://", Spy())
    sess.send(sess.prepare_request(requests.Request("GET", "https://ibkr.invalid/a")))
    sess.get("https://ibkr.invalid/b")
    sess.get("https://ibkr.invalid/c", verify=False)
    sess.trust_env = False
    sess.get("https://ibkr.invalid/d")
    assert seen == ["/etc/custom-ca.pem", "/etc/custom-ca.pem", False, True]


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                    st.floats(allow_nan=False))
_JSON = st.recursive(_SCALAR, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=5), kids, max_size=3)),
    max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "post", "DELETE", "PUT"]),
    path=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="#?"),
                 max_size=12),
    params=st.one_of(st.none(), st.just({}), st.dictionaries(
        st.text(min_size=1, max_size=6),
        st.one_of(st.text(max_size=6), st.integers(), st.lists(st.text(max_size=3), max_size=2)),
        max_size=3)),
    body=st.one_of(st.none(), _JSON),
    netrc=st.booleans(),
    cookie=st.booleans(),
    userinfo=st.sampled_from(["", "u:p@", "a%40b:c%3Ad@", "solo@"]),
)
def test_fast_prepare_equals_prepare_request(method: str, path: str, params: Any, body: Any,
                                             netrc: bool, cookie: bool, userinfo: str) -> None:
    """`prepare()` (cold and memoised) equals `prepare_request()` and a plain requests.Session."""
    sess = limited_session()
    plain = requests.Session()
    plain.trust_env = False
    for one in (sess, plain):
        if cookie:
            one.cookies.set("sid", "abc", domain="ibkr.invalid")
        one.hooks["response"].append(_keep)
        one.headers["Accept"] = "application/json"
        one.headers["User-Agent"] = sess.headers["User-Agent"]
    origin = f"https://{userinfo}ibkr.invalid"
    sess._origin_env[origin.lower()] = _origin_env(
        ("u", "p") if netrc else None)  # what ~/.netrc would hold, without touching HOME
    url = origin + "/v1/api/" + path
    try:
        full = sess.prepare_request(requests.Request(method, url, params=params, json=body))
    except Exception as exc:  # the fast path must refuse the same input the same way
        with pytest.raises(type(exc)):
            sess.prepare(method, url, params=params, json=body)
        return
    oracle = plain.prepare_request(requests.Request(method, url, params=params, json=body,
                                                    auth=("u", "p") if netrc else None))
    for _ in range(2):
        fast = sess.prepare(method, url, params=params, json=body)
        for other in (full, oracle):
            assert (fast.method, fast.url, dict(fast.headers), fast.body, fast.hooks) == (
                other.method, other.url, dict(other.headers), other.body, other.hooks)


def _keep(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A response hook that changes nothing (a session's hooks must still run)."""
    return resp


def _origin_env(netrc: tuple[str, str] | None) -> Any:
    """A settled-environment entry with no proxy or CA bundle."""
    from noetl_ib_plugin.transport.settled import _OriginEnv

    return _OriginEnv({}, None, netrc)


def test_session_params_or_auth_take_the_full_path() -> None:
    """With session-level params or auth, prepare() defers to prepare_request()."""
    sess = limited_session()
    sess.params = {"a": "1"}
    sess.auth = ("u", "p")
    fast = sess.prepare("GET", "https://ibkr.invalid/x", params={"b": 2})
    assert fast.url == "https://ibkr.invalid/x?a=1&b=2"
    assert fast.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


class _Plan:
    """What the cookie server answers next: status and Set-Cookie lines."""

    status = 200
    set_cookies: list[str] = []


class _CookieServer(BaseHTTPRequestHandler):
    """Records each request as it came over the wire and answers per `_Plan`."""

    seen: list[tuple[str, str, list[tuple[str, str]], bytes]]

    def _answer(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        type(self).seen.append((self.command, self.path, sorted(self.headers.items()), body))
        answer = b'{"ok": true}' if _Plan.status != 204 else b""
        self.send_response(_Plan.status)
        for line in _Plan.set_cookies:
            self.send_header("Set-Cookie", line)
        if 300 <= _Plan.status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def cookie_server() -> Iterator[tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]]]:
    """A loopback HTTP server that sets the planned cookies and records what reaches it."""
    seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
    with _serving(type("Cookies", (_CookieServer,), {"seen": seen})) as url:
        yield url, seen


def _full_path_session() -> requests.Session:
    """The oracle: a plain requests.Session (its own Session.send) with the same adapter kind
    and headers as `limited_session()`, and no environment."""
    plain = requests.Session()
    plain.trust_env = False
    adapter = DeadlineAdapter()
    plain.mount("http://", adapter)
    plain.mount("https://", adapter)
    plain.headers.update(limited_session().headers)
    return plain


def _jar(sess: requests.Session) -> list[tuple[str, str | None, str, str]]:
    """The session's cookies as comparable tuples."""
    return sorted((c.name, c.value, c.domain, c.path) for c in sess.cookies)


def _outcome(sess: requests.Session, method: str, url: str, params: Any,
             body: Any) -> tuple[Any, ...]:
    """One call the way TradingTransport makes it: what came back, or the error's type."""
    try:
        if isinstance(sess, SettledSession):
            prepared = sess.prepare(method, url, params=params, json=body)
        else:
            prepared = sess.prepare_request(
                requests.Request(method, url, params=params, json=body))
        resp = sess.send(prepared, timeout=5, allow_redirects=False)
    except (requests.RequestException, RedirectRefused) as exc:
        return (type(exc).__name__,)
    return (resp.status_code, resp.reason, resp.url, sorted(
        (k, v) for k, v in resp.headers.items() if k.lower() != "date"), resp.content,
        sorted(resp.cookies.items()), resp.history, resp.next is None, resp.is_redirect)


_COOKIE_LINE = st.builds(
    lambda name, value, attrs: f"{name}={value}{attrs}",
    st.sampled_from(["sid", "AWSALB", "x-sess"]),
    st.text("abcXYZ019-_.", max_size=8),
    st.sampled_from(["", "; Path=/", "; Path=/v1/api", "; Max-Age=0", "; HttpOnly",
                     "; Path=/other", "; Domain=ibkr.invalid"]),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.tuples(
        st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
        st.sampled_from(["/v1/api/iserver/accounts", "/v1/api/a b", "/v1/api/x?y=1", "/"]),
        st.one_of(st.none(), st.dictionaries(st.sampled_from(["conid", "q"]),
                                             st.text("ab1", max_size=3), max_size=2)),
        st.one_of(st.none(), _JSON),
        st.sampled_from([200, 200, 201, 204, 302, 400, 401, 404, 500]),
        st.lists(_COOKIE_LINE, max_size=3),
    ), min_size=1, max_size=4),
    preset=st.booleans(),
)
def test_hot_path_equals_full_requests_path_on_the_wire(
    cookie_server: tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]],
    steps: list[tuple[str, str, Any, Any, int, list[str]]], preset: bool,
) -> None:
    """Direct send equals Session.send: request on the wire, Response fields, session jar."""
    url, seen = cookie_server
    hot, full = limited_session(), _full_path_session()
    assert isinstance(hot, SettledSession)
    hot.trust_env = False  # the oracle has no environment either
    for sess in (hot, full):
        sess.hooks["response"].append(_keep)
        if preset:
            sess.cookies.set("lb", "n1", domain="127.0.0.1", path="/")
    for method, path, params, body, status, cookies in steps:
        _Plan.status, _Plan.set_cookies = status, cookies
        answers = []
        for sess in (hot, full):
            seen.clear()
            answers.append((_outcome(sess, method, url + path, params, body), list(seen)))
        assert answers[0] == answers[1]
        assert _jar(hot) == _jar(full)


def test_hot_path_keeps_cookies_and_sends_them_back(
    cookie_server: tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]],
) -> None:
    """A load-balancer cookie set by one answer is in the jar and on the next request."""
    url, seen = cookie_server
    sess = limited_session()
    _Plan.status, _Plan.set_cookies = 200, ["AWSALB=abc; Path=/"]
    first = sess.send(sess.prepare("GET", url + "/a"), timeout=5, allow_redirects=False)
    assert first.cookies.get("AWSALB") == "abc"
    assert sess.cookies.get("AWSALB") == "abc"
    _Plan.set_cookies = []
    seen.clear()
    sess.send(sess.prepare("GET", url + "/b"), timeout=5, allow_redirects=False)
    assert dict(seen[0][2]).get("Cookie") == "AWSALB=abc"


def test_hot_path_runs_response_hooks_and_refuses_redirects(
    cookie_server: tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]],
) -> None:
    """Response hooks still see every answer; a 3xx is refused, never followed."""
    url, _ = cookie_server
    sess = limited_session()
    statuses: list[int] = []
    sess.hooks["response"].append(lambda r, *a, **k: statuses.append(r.status_code))
    _Plan.status, _Plan.set_cookies = 429, []
    sess.send(sess.prepare("GET", url + "/a"), timeout=5, allow_redirects=False)
    assert statuses == [429]
    _Plan.status = 302
    with pytest.raises(RedirectRefused):
        sess.send(sess.prepare("GET", url + "/a"), timeout=5, allow_redirects=False)
