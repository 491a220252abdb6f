"""Test-side IBKR clients (OAuth 2.0 and OAuth 1.0a), written apart from the simulator's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import jwt
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def load_private(pem: str) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM text."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass
class OAuth2Client:
    """private_key_jwt client: access token, then SSO bearer."""

    root: str
    client_id: str
    key_id: str
    key: rsa.RSAPrivateKey = field(repr=False)
    username: str
    aud: str = "/token"
    http: requests.Session = field(default_factory=requests.Session)

    def assertion(self, key: rsa.RSAPrivateKey | None = None, headers: dict[str, Any] | None = None,
                  alg: str = "RS256", **claims: Any) -> str:
        """A client assertion; keyword overrides replace claims (None removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.client_id, "sub": self.client_id, "aud": self.aud,
                                "iat": now - 10, "exp": now + 20, "jti": str(uuid.uuid4())}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"kid": self.key_id, **(headers or {})}
        signing_key: Any = key or self.key
        if alg == "HS256":
            signing_key = b"x" * 32
        return jwt.encode(body, signing_key, algorithm=alg, headers=head)

    def token_response(self, assertion: str | None = None, **form: str) -> requests.Response:
        """POST the token request as a form."""
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion or self.assertion(),
            "scope": "sso-sessions.write",
        }
        data.update(form)
        return self.http.post(f"{self.root}/oauth2/api/v1/token", data=data, timeout=10)

    def access_token(self) -> str:
        """Get an access token or fail the test."""
        resp = self.token_response()
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def sso_response(self, access_token: str, key: rsa.RSAPrivateKey | None = None,
                     content_type: str = "application/jwt", **claims: Any) -> requests.Response:
        """POST /gw/api/v1/sso-sessions with a signed session JWS."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.client_id, "credential": self.username,
                                "ip": "127.0.0.1", "iat": now, "exp": now + 86400,
                                "jti": str(uuid.uuid4())}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        token = jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.key_id})
        return self.http.post(
            f"{self.root}/gw/api/v1/sso-sessions", data=token, timeout=10,
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": content_type},
        )

    def bearer(self) -> str:
        """Run both steps and return the trading bearer."""
        resp = self.sso_response(self.access_token())
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


def java_bytes(value: int) -> bytes:
    """BigInteger.toByteArray for a non-negative value."""
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


class OAuth1aClient(requests.auth.AuthBase):
    """OAuth 1.0a consumer: obtains a live session token and signs requests with HMAC-SHA256."""

    def __init__(self, root: str, data: dict[str, Any]) -> None:
        self.root = root
        self.consumer_key = str(data["consumer_key"])
        self.access_token = str(data["access_token"])
        self.realm = str(data.get("realm", "limited_poa"))
        self.signature_key = load_private(data["signature_key"])
        encryption_key = load_private(data["encryption_key"])
        secret = base64.b64decode(data["access_token_secret"])
        self.prepend = encryption_key.decrypt(secret, padding.PKCS1v15()).hex()
        self.prime = int(data["dh_prime"], 16)
        self.generator = int(data.get("dh_generator", 2))
        self.lst: str | None = None
        self.http = requests.Session()

    @staticmethod
    def nonce() -> str:
        """Random alphanumeric nonce."""
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(16))

    @staticmethod
    def header(params: dict[str, str], realm: str) -> str:
        """Authorization header with sorted, quoted params."""
        parts = ", ".join(f'{k}="{v}"' for k, v in sorted(params.items()))
        return f'OAuth realm="{realm}", {parts}'

    def base(self, method: str, url: str, params: dict[str, str], prepend: str = "") -> str:
        """IBKR base string (joined params encoded once)."""
        joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
        return f"{prepend}{method}&{quote_plus(url)}&{quote_plus(joined)}"

    def lst_response(self, key: rsa.RSAPrivateKey | None = None,
                     timestamp: int | None = None) -> tuple[requests.Response, int]:
        """POST /oauth/live_session_token; returns the response and the DH secret a."""
        a = secrets.randbits(256)
        params = {
            "oauth_consumer_key": self.consumer_key, "oauth_nonce": self.nonce(),
            "oauth_signature_method": "RSA-SHA256",
            "oauth_timestamp": str(timestamp or int(time.time())),
            "oauth_token": self.access_token,
            "diffie_hellman_challenge": format(pow(self.generator, a, self.prime), "x"),
        }
        url = f"{self.root}/v1/api/oauth/live_session_token"
        text = self.base("POST", url, params, self.prepend)
        sig = (key or self.signature_key).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        params["oauth_signature"] = quote_plus(base64.b64encode(sig).decode())
        resp = self.http.post(url, headers={"Authorization": self.header(params, self.realm)},
                              timeout=10)
        return resp, a

    def obtain_lst(self) -> str:
        """Run the DH exchange, check the server's LST signature, and keep the LST."""
        resp, a = self.lst_response()
        assert resp.status_code == 200, resp.text
        body = resp.json()
        shared = pow(int(body["diffie_hellman_response"], 16), a, self.prime)
        lst = base64.b64encode(
            hmac.new(java_bytes(shared), bytes.fromhex(self.prepend), hashlib.sha1).digest()
        ).decode()
        check = hmac.new(base64.b64decode(lst), self.consumer_key.encode(), hashlib.sha1)
        assert check.hexdigest() == body["live_session_token_signature"]
        assert body["live_session_token_expiration"] > time.time() * 1000
        self.lst = lst
        return lst

    def sign(self, method: str, url: str, timestamp: int | None = None,
             nonce: str | None = None, tamper: bool = False) -> str:
        """Authorization header for one request (the URL's query string is not signed)."""
        assert self.lst is not None
        params = {
            "oauth_consumer_key": self.consumer_key, "oauth_nonce": nonce or self.nonce(),
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": str(timestamp or int(time.time())),
            "oauth_token": self.access_token,
        }
        text = self.base(method, url.split("?", 1)[0], params)
        digest = hmac.new(base64.b64decode(self.lst), text.encode(), hashlib.sha256).digest()
        if tamper:
            digest = bytes([digest[0] ^ 1]) + digest[1:]
        params["oauth_signature"] = quote_plus(base64.b64encode(digest).decode())
        return self.header(params, self.realm)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """requests auth hook."""
        assert r.method is not None and r.url is not None
        r.headers["Authorization"] = self.sign(r.method, r.url)
        return r


class Trader:
    """A keep-alive session against /v1/api with either auth scheme attached."""

    def __init__(self, root: str, account: str, *, bearer: str | None = None,
                 oauth1a: OAuth1aClient | None = None) -> None:
        self.root = root
        self.base = f"{root}/v1/api"
        self.account = account
        self.http = requests.Session()
        if bearer is not None:
            self.http.headers["Authorization"] = f"Bearer {bearer}"
        if oauth1a is not None:
            self.http.auth = oauth1a

    def get(self, path: str, **kw: Any) -> requests.Response:
        """GET under /v1/api."""
        return self.http.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        """POST under /v1/api."""
        return self.http.post(self.base + path, timeout=10, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        """DELETE under /v1/api."""
        return self.http.delete(self.base + path, timeout=10, **kw)

    def init(self) -> Trader:
        """Open the brokerage session."""
        resp = self.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
        assert resp.status_code == 200 and resp.json()["authenticated"] is True, resp.text
        return self

    def order(self, **ticket: Any) -> Any:
        """Place one order and return the decoded JSON."""
        ticket.setdefault("acctId", self.account)
        ticket.setdefault("side", "BUY")
        ticket.setdefault("tif", "DAY")
        resp = self.post(f"/iserver/account/{self.account}/orders", json={"orders": [ticket]})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def confirm_all(self, answer: Any) -> Any:
        """Confirm questions until the order is placed (bounded)."""
        for _ in range(5):
            if not (isinstance(answer, list) and answer and "id" in answer[0]):
                return answer
            resp = self.post(f"/iserver/reply/{answer[0]['id']}", json={"confirmed": True})
            assert resp.status_code == 200, resp.text
            answer = resp.json()
        raise AssertionError("question chain too long")
