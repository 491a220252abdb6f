"""SettledSession: proxies, CA bundle and ~/.netrc honoured as requests does, read once per origin."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from noetl_ib_plugin.transport import SettledSession, limited_session


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


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A loopback HTTP server that records what reaches it."""
    seen: list[tuple[str, str]] = []
    handler = type("Rec", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


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
    params=st.one_of(st.none(), st.dictionaries(
        st.text(min_size=1, max_size=6),
        st.one_of(st.text(max_size=6), st.integers(), st.lists(st.text(max_size=3), max_size=2)),
        max_size=3)),
    body=st.one_of(st.none(), _JSON),
    netrc=st.booleans(),
)
def test_fast_prepare_equals_prepare_request(method: str, path: str, params: Any, body: Any,
                                             netrc: bool) -> None:
    """`prepare()` gives the same method, URL, headers, body and hooks as `prepare_request()`."""
    sess = limited_session()
    sess.cookies.set("sid", "abc", domain="ibkr.invalid")
    sess.hooks["response"].append(lambda r, *a, **k: r)
    sess.headers["Accept"] = "application/json"
    sess._origin_env["https://ibkr.invalid"] = _origin_env(
        ("u", "p") if netrc else None)  # what ~/.netrc would hold, without touching HOME
    url = "https://ibkr.invalid/v1/api/" + path
    try:
        full = sess.prepare_request(requests.Request(method, url, params=params, json=body))
    except Exception as exc:  # the fast path must refuse the same input the same way
        with pytest.raises(type(exc)):
            sess.prepare(method, url, params=params, json=body)
        return
    fast = sess.prepare(method, url, params=params, json=body)
    assert (fast.method, fast.url, dict(fast.headers), fast.body, fast.hooks) == (
        full.method, full.url, dict(full.headers), full.body, full.hooks)


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
