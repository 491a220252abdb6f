"""A small loopback OAuth 2.0 server that verifies JWTs with `cryptography` alone (not PyJWT)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url_decode(part: str) -> bytes:
    """Base64url without padding, as JWS uses it."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jws(token: str, key: rsa.RSAPublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify an RS256 compact JWS by hand; returns (header, claims) or raises ValueError."""
    head, body, sig = token.split(".")
    key.verify(
        b64url_decode(sig),
        f"{head}.{body}".encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(body))


@dataclass
class TokenServerState:
    """What the server accepts and what it has seen."""

    client_id: str
    key_id: str
    public_key: rsa.RSAPublicKey
    username: str
    token_ttl: float = 3600.0
    clock: Callable[[], float] = time.time
    token_requests: int = 0
    sso_requests: int = 0
    api_requests: int = 0
    seen_jti: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)
    bearers: dict[str, float] = field(default_factory=dict)
    assertions: list[str] = field(default_factory=list)
    fail_next_token: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0

    def revoke_all(self) -> None:
        """Every bearer stops working (as after an IBKR logout)."""
        with self.lock:
            self.bearers.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: TokenServerState

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: dict[str, Any], ctype: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, status: int, detail: str) -> None:
        self._send(
            status,
            {"type": "/simple", "title": "Unauthorized", "status": status, "detail": detail},
            "application/problem+json",
        )

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _check_jws(self, token: str, aud: str | None) -> dict[str, Any]:
        st = self.state
        header, claims = verify_jws(token, st.public_key)
        if header != {"alg": "RS256", "typ": "JWT", "kid": st.key_id}:
            raise ValueError(f"bad header {header}")
        now = st.clock()
        if not claims["iat"] - 30 <= now <= claims["exp"] + 30:
            raise ValueError("expired")
        if aud is not None and claims.get("aud") != aud:
            raise ValueError("aud")
        jti = claims.get("jti")
        with st.lock:
            if not jti or jti in st.seen_jti:
                raise ValueError("jti replay")
            st.seen_jti.add(jti)
        return claims

    def do_POST(self) -> None:
        """Token and SSO endpoints."""
        st = self.state
        if st.delay:
            time.sleep(st.delay)
        if self.path == "/oauth2/api/v1/token":
            with st.lock:
                st.token_requests += 1
                failure = st.fail_next_token.pop(0) if st.fail_next_token else None
            form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
            if failure is not None:
                status, headers = failure
                data = b'{"error":"busy"}'
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            try:
                assertion = form["client_assertion"]
                claims = self._check_jws(assertion, "/token")
                if claims["iss"] != st.client_id or claims["sub"] != st.client_id:
                    raise ValueError("iss")
                if form.get("grant_type") != "client_credentials":
                    raise ValueError("grant")
            except (KeyError, ValueError, InvalidSignature):
                self._problem(401, "The access token request is invalid")
                return
            st.assertions.append(assertion)
            token = secrets.token_urlsafe(24)
            with st.lock:
                st.access_tokens[token] = st.clock() + st.token_ttl
            self._send(
                200, {"access_token": token, "token_type": "Bearer", "expires_in": str(int(st.token_ttl))}
            )
            return
        if self.path == "/gw/api/v1/sso-sessions":
            with st.lock:
                st.sso_requests += 1
            auth = self.headers.get("Authorization", "")
            body = self._body().decode()
            access = auth.removeprefix("Bearer ")
            if st.access_tokens.get(access, 0) <= st.clock():
                self._problem(401, "invalid access token")
                return
            try:
                claims = self._check_jws(body, None)
                if claims.get("credential") != st.username:
                    raise ValueError("credential")
            except (ValueError, InvalidSignature):
                self._problem(401, "invalid session request")
                return
            bearer = secrets.token_urlsafe(24)
            with st.lock:
                st.bearers[bearer] = min(st.access_tokens[access], claims["exp"])
            self._send(200, {"active": True, "access_token": bearer})
            return
        self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        """`/v1/api/echo`: 200 with a valid bearer, 401 otherwise."""
        st = self.state
        with st.lock:
            st.api_requests += 1
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if st.bearers.get(bearer, 0) > st.clock():
            self._send(200, {"ok": True})
        else:
            self._send(401, {"error": "not authenticated"})


class TokenServer:
    """Runs the handler on 127.0.0.1 in a daemon thread."""

    def __init__(self, state: TokenServerState) -> None:
        handler = type("Handler", (_Handler,), {"state": state})
        self.state = state
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
