"""Real verification of OAuth 2.0 (private_key_jwt + SSO bearer) and OAuth 1.0a (LST + HMAC)."""

from __future__ import annotations

import hashlib
import heapq
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import lst as lstmath

__all__ = ["AuthError", "AuthService", "Principal", "tickle_session"]

Clock = Callable[[], float]
LEEWAY = 30.0
MAX_ASSERTION_LIFETIME = 600.0
OAUTH1_WINDOW = 300.0
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
INVALID_CONSUMER = "id: 39687, error: invalid consumer"


class AuthError(Exception):
    """A refusal carrying the exact HTTP status and body IBKR would answer with."""

    def __init__(self, status: int, body: Any, content_type: str = "application/json") -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.content_type = content_type


def _problem(status: int, detail: str) -> AuthError:
    """RFC 9457 problem+json, as IBKR's OAuth 2.0 endpoints answer."""
    title = {400: "Bad Request", 401: "Unauthorized"}.get(status, "Error")
    body = {"type": "/simple", "title": title, "status": status, "detail": detail}
    return AuthError(status, body, "application/problem+json")


def _oauth1_error(detail: str = INVALID_CONSUMER) -> AuthError:
    """The trading gateway's 401 body shape for OAuth 1.0a failures."""
    return AuthError(401, {"error": detail, "statusCode": 401})


def _load_public(pem: str) -> rsa.RSAPublicKey:
    """Load a PEM public key and insist on RSA, the only algorithm IBKR uses."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("only RSA public keys are supported")
    return key


@dataclass(frozen=True)
class Principal:
    """Who is calling and through which token; brokerage sessions hang off token_id."""

    username: str
    account_id: str
    token_id: str
    scheme: str
    expires_at: float


@dataclass
class OAuth2Client:
    """A registered private_key_jwt client."""

    client_id: str
    key_id: str
    public_key: rsa.RSAPublicKey = field(repr=False)
    username: str
    account_id: str


@dataclass
class OAuth1aConsumer:
    """A registered OAuth 1.0a consumer; the server knows the access token secret in clear."""

    consumer_key: str
    access_token: str
    signature_key: rsa.RSAPublicKey = field(repr=False)
    prepend_hex: str = field(repr=False)
    dh_prime: int = field(repr=False)
    dh_generator: int
    username: str
    account_id: str
    realm: str


@dataclass
class Issued:
    """An access token, SSO bearer or LST the simulator handed out."""

    token_id: str
    kind: str
    username: str
    account_id: str
    expires_at: float
    owner: str
    secret: str = field(default="", repr=False)
    revoked: bool = False


#: Scopes IBKR grants a private_key_jwt client; the token request must ask for the first.
SSO_SCOPES = ("sso-sessions.write", "sso-sessions.read")


def _check_scope(requested: str | None) -> str:
    """The granted scope: absent means sso-sessions.write; anything else must be IBKR's."""
    if not requested:
        return SSO_SCOPES[0]
    parts = requested.split()
    if SSO_SCOPES[0] not in parts or any(p not in SSO_SCOPES for p in parts):
        raise _problem(400, f"invalid_scope: {requested!r} (use 'sso-sessions.write')")
    return " ".join(parts)


class AuthService:
    """Registries, token issuance and per-request verification; thread-safe."""

    def __init__(self, clock: Clock, randbits: Callable[[int], int] = secrets.randbits) -> None:
        self.clock = clock
        self.randbits = randbits
        self.public_url = ""
        self.token_ttl = 86399.0
        self.sso_ttl = 86400.0
        self.lst_ttl = 86400.0
        self._bearer_secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._clients_by_kid: dict[str, OAuth2Client] = {}
        self._clients_by_id: dict[str, OAuth2Client] = {}
        self._consumers: dict[str, OAuth1aConsumer] = {}
        self._access: dict[str, Issued] = {}
        self._bearers: dict[str, Issued] = {}
        self._lsts: dict[str, list[Issued]] = {}
        self._by_id: dict[str, Issued] = {}
        self._jtis: dict[str, float] = {}
        #: IBKR's own samples send no `jti`; True refuses assertions without one.
        self.require_jti = False
        #: True compares the SSO assertion's `ip`/`userIp` claim with the caller's address.
        self.check_ip = False
        #: (consumer key, nonce) -> when it may be used again; `_nonce_expiry` orders the same
        #: entries by that time, so forgetting expired nonces costs O(log n) per request.
        self._nonces: dict[tuple[str, str], float] = {}
        self._nonce_expiry: list[tuple[float, tuple[str, str]]] = []

    # -- registration ---------------------------------------------------------------------
    def register_oauth2_client(
        self, client_id: str, key_id: str, public_key_pem: str, username: str, account_id: str
    ) -> None:
        """Accept assertions signed by this key (looked up by the JWS `kid`)."""
        client = OAuth2Client(client_id, key_id, _load_public(public_key_pem), username, account_id)
        with self._lock:
            self._clients_by_kid[key_id] = client
            self._clients_by_id[client_id] = client

    def register_oauth1a_consumer(
        self,
        consumer_key: str,
        *,
        access_token: str,
        signature_public_key_pem: str,
        prepend_hex: str,
        username: str,
        account_id: str,
        dh_prime_hex: str = lstmath.RFC3526_PRIME_HEX,
        dh_generator: int = 2,
        realm: str = "limited_poa",
    ) -> None:
        """Accept LST requests from this consumer; prepend_hex is the decrypted secret in hex."""
        consumer = OAuth1aConsumer(
            consumer_key,
            access_token,
            _load_public(signature_public_key_pem),
            prepend_hex.lower(),
            int(dh_prime_hex, 16),
            dh_generator,
            username,
            account_id,
            realm,
        )
        with self._lock:
            self._consumers[consumer_key] = consumer

    # -- revocation -------------------------------------------------------------------------
    def revoke(self, token_id: str) -> None:
        """Revoke one issued token so the next request with it gets 401."""
        with self._lock:
            issued = self._by_id.get(token_id)
            if issued is not None:
                issued.revoked = True

    def revoke_all(self) -> int:
        """Revoke every access token, bearer and LST issued so far; returns how many."""
        with self._lock:
            live = [i for i in self._by_id.values() if not i.revoked]
            for issued in live:
                issued.revoked = True
            return len(live)

    # -- OAuth 2.0 ------------------------------------------------------------------------
    def _accepted_audiences(self) -> set[str]:
        """The assertion audience may be the short "/token" or a full token URL."""
        return {
            "/token",
            f"{self.public_url}/oauth2/api/v1/token",
            "https://api.ibkr.com/oauth2/api/v1/token",
        }

    def _remember_jti(self, key: str, expires: float) -> None:
        """Reject a replayed jti; memory is bounded by pruning entries past their expiry."""
        now = self.clock()
        if len(self._jtis) > 4096:
            self._jtis = {k: v for k, v in self._jtis.items() if v > now}
        if key in self._jtis:
            raise _problem(401, "The assertion jti has already been used")
        self._jtis[key] = expires + LEEWAY

    def _check_jti(self, client: OAuth2Client, claims: Mapping[str, Any], exp: float,
                   missing: str) -> None:
        """A `jti`, when present, is one-time; absent is fine unless require_jti (lock held)."""
        jti = claims.get("jti")
        if jti is None and not self.require_jti:
            return
        if not isinstance(jti, str) or not jti:
            raise _problem(401, missing)
        self._remember_jti(f"{client.client_id}:{jti}", exp)

    def _verify_jws(
        self, token: str, client: OAuth2Client | None
    ) -> tuple[OAuth2Client, dict[str, Any]]:
        """Check alg, kid and the RS256 signature; times are checked against the injected clock."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _problem(401, "The assertion is not a valid JWS") from exc
        if header.get("alg") != "RS256":
            raise _problem(401, "Only RS256 assertions are accepted")
        kid = header.get("kid")
        found = self._clients_by_kid.get(kid) if isinstance(kid, str) else None
        if found is None and kid is None:
            try:
                iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
            except jwt.PyJWTError as exc:
                raise _problem(401, "The assertion is not a valid JWS") from exc
            found = self._clients_by_id.get(iss) if isinstance(iss, str) else None
        if found is None or (client is not None and found is not client):
            raise _problem(401, "Unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=found.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "verify_aud": False, "verify_iss": False, "verify_sub": False,
                         "verify_jti": False},
            )
        except jwt.PyJWTError as exc:
            raise _problem(401, "The assertion signature is invalid") from exc
        return found, claims

    def _check_times(self, claims: Mapping[str, Any], max_lifetime: float | None) -> float:
        """Validate iat/exp with leeway (and a maximum lifetime); returns exp."""
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            raise _problem(401, "The assertion must carry numeric iat and exp")
        now = self.clock()
        if exp < now - LEEWAY:
            raise _problem(401, "The assertion has expired")
        if iat > now + LEEWAY:
            raise _problem(401, "The assertion was issued in the future")
        if exp < iat or (max_lifetime is not None and exp - iat > max_lifetime):
            raise _problem(401, "The assertion lifetime is too long")
        return float(exp)

    def issue_access_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Handle POST /oauth2/api/v1/token (client_credentials with a JWT client assertion)."""
        if form.get("grant_type") != "client_credentials":
            raise _problem(400, "grant_type must be client_credentials")
        if form.get("client_assertion_type") != JWT_BEARER:
            raise _problem(400, "client_assertion_type must be jwt-bearer")
        assertion = form.get("client_assertion")
        if not assertion:
            raise _problem(400, "client_assertion is required")
        with self._lock:
            client, claims = self._verify_jws(assertion, None)
            if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
                raise _problem(401, "iss and sub must equal the client id")
            aud = claims.get("aud")
            auds = set(aud) if isinstance(aud, list) else {aud}
            if not auds & self._accepted_audiences():
                raise _problem(401, "The assertion audience is invalid")
            exp = self._check_times(claims, MAX_ASSERTION_LIFETIME)
            self._check_jti(client, claims, exp, "The assertion must carry a jti")
            scope = _check_scope(form.get("scope"))
            now = self.clock()
            value = secrets.token_urlsafe(32)
            issued = Issued("a:" + value[:16], "access", client.username, client.account_id,
                            now + self.token_ttl, client.client_id)
            self._access[value] = issued
            self._by_id[issued.token_id] = issued
        return {
            "access_token": value,
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": int(self.token_ttl),
        }

    def open_sso_session(
        self, authorization: str, content_type: str, body: bytes, client_ip: str = ""
    ) -> dict[str, Any]:
        """Handle POST /gw/api/v1/sso-sessions: bearer access token plus a signed session JWS."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise _problem(401, "A bearer access token is required")
        if not content_type.lower().startswith("application/jwt"):
            raise _problem(400, "Content-Type must be application/jwt")
        now = self.clock()
        with self._lock:
            access = self._access.get(value.strip())
            if access is None or access.revoked or access.expires_at <= now:
                raise _problem(401, "The access token is invalid or expired")
            client = self._clients_by_id[access.owner]
            _, claims = self._verify_jws(body.decode("utf-8", "replace").strip(), client)
            if claims.get("iss") != client.client_id:
                raise _problem(401, "iss must equal the client id")
            if claims.get("credential") != client.username:
                raise _problem(401, "credential does not match the registered username")
            for name in ("ip", "userIp", "service"):
                if name in claims and not isinstance(claims[name], str):
                    raise _problem(400, f"{name} must be a string")
            if self.check_ip:
                claimed = claims.get("ip", claims.get("userIp"))
                if claimed != client_ip:
                    raise _problem(401, f"The ip claim does not match the caller ({client_ip})")
            exp = self._check_times(claims, None)
            self._check_jti(client, claims, exp, "The session assertion must carry a jti")
            bearer_exp = min(now + self.sso_ttl, exp, access.expires_at)
            bearer_jti = secrets.token_hex(12)
            bearer = jwt.encode(
                {"sub": client.username, "cid": client.client_id, "acct": client.account_id,
                 "iat": int(now), "exp": int(bearer_exp), "jti": bearer_jti},
                self._bearer_secret,
                algorithm="HS256",
            )
            issued = Issued("b:" + bearer_jti, "bearer", client.username, client.account_id,
                            bearer_exp, client.client_id)
            self._bearers[bearer] = issued
            self._by_id[issued.token_id] = issued
        return {"active": True, "access_token": bearer}

    # -- OAuth 1.0a -----------------------------------------------------------------------
    def _check_fresh(self, consumer: OAuth1aConsumer, params: Mapping[str, str]) -> None:
        """Enforce the timestamp window and one-time nonces per consumer."""
        now = self.clock()
        try:
            stamp = float(params.get("oauth_timestamp", ""))
        except ValueError:
            raise _oauth1_error("error: invalid oauth_timestamp") from None
        if abs(now - stamp) > OAUTH1_WINDOW:
            raise _oauth1_error("error: oauth_timestamp outside the allowed window (clock skew)")
        nonce = params.get("oauth_nonce", "")
        if not nonce:
            raise _oauth1_error("error: oauth_nonce is required")
        expiry = self._nonce_expiry
        while expiry and expiry[0][0] <= now:
            due, old = heapq.heappop(expiry)
            if self._nonces.get(old) == due:
                del self._nonces[old]
        key = (consumer.consumer_key, nonce)
        if self._nonces.get(key, 0.0) > now:
            raise _oauth1_error("error: oauth_nonce has already been used")
        due = now + 2 * OAUTH1_WINDOW
        self._nonces[key] = due
        heapq.heappush(expiry, (due, key))

    def _consumer_for(self, params: Mapping[str, str], method: str) -> OAuth1aConsumer:
        """Look up consumer and access token and check the signature method."""
        consumer = self._consumers.get(params.get("oauth_consumer_key", ""))
        if consumer is None or params.get("oauth_token") != consumer.access_token:
            raise _oauth1_error()
        if params.get("oauth_signature_method") != method:
            raise _oauth1_error(f"error: oauth_signature_method must be {method}")
        if not params.get("oauth_signature"):
            raise _oauth1_error("error: oauth_signature is required")
        return consumer

    def live_session_token(self, method: str, path: str, authorization: str) -> dict[str, Any]:
        """Handle POST /oauth/live_session_token: verify RSA-SHA256, then the server side of DH."""
        try:
            params = lstmath.parse_oauth_header(authorization)
        except ValueError:
            raise _oauth1_error() from None
        with self._lock:
            consumer = self._consumer_for(params, "RSA-SHA256")
            challenge_hex = params.get("diffie_hellman_challenge", "")
            try:
                challenge = int(challenge_hex, 16)
            except ValueError:
                raise _oauth1_error("error: invalid diffie_hellman_challenge") from None
            if not 1 < challenge < consumer.dh_prime - 1:
                raise _oauth1_error("error: invalid diffie_hellman_challenge")
            text = lstmath.base_string(
                method, self.public_url + path, lstmath.signed_params(params), consumer.prepend_hex
            )
            signature = params["oauth_signature"]
            if not lstmath.verify_rsa_sha256(consumer.signature_key, text, signature):
                raise _oauth1_error("error: invalid signature")
            self._check_fresh(consumer, params)
            server_random = self.randbits(256) | 1
            response = lstmath.dh_response(consumer.dh_generator, server_random, consumer.dh_prime)
            secret = lstmath.shared_secret(challenge, server_random, consumer.dh_prime)
            token = lstmath.live_session_token(secret, consumer.prepend_hex)
            expires = self.clock() + self.lst_ttl
            issued = Issued("l:" + secrets.token_hex(12), "lst", consumer.username,
                            consumer.account_id, expires, consumer.consumer_key, token)
            lsts = [i for i in self._lsts.get(consumer.consumer_key, []) if not i.revoked][-3:]
            self._lsts[consumer.consumer_key] = [*lsts, issued]
            self._by_id[issued.token_id] = issued
        return {
            "diffie_hellman_response": format(response, "x"),
            "live_session_token_signature": lstmath.lst_signature(token, consumer.consumer_key),
            "live_session_token_expiration": int(expires * 1000),
        }

    def _verify_oauth1(self, method: str, path: str, query: str, authorization: str) -> Issued:
        """Verify an HMAC-SHA256 request against the consumer's live session tokens."""
        try:
            params = lstmath.parse_oauth_header(authorization)
        except ValueError:
            raise _oauth1_error() from None
        with self._lock:
            consumer = self._consumer_for(params, "HMAC-SHA256")
            url = self.public_url + path
            signed = lstmath.signed_params(params)
            texts = [lstmath.base_string(method, url, signed)]
            if query:
                extra = parse_qsl(query, keep_blank_values=True)
                texts.append(lstmath.base_string(method, url, lstmath.signed_params(params, extra)))
            now = self.clock()
            for issued in reversed(self._lsts.get(consumer.consumer_key, [])):
                if any(lstmath.verify_hmac_sha256(issued.secret, t, params["oauth_signature"])
                       for t in texts):
                    if issued.revoked or issued.expires_at <= now:
                        raise _oauth1_error("error: live session token expired or revoked")
                    self._check_fresh(consumer, params)
                    return issued
        raise _oauth1_error("error: invalid signature")

    def websocket_principal(self, session: str, oauth_token: str) -> Principal:
        """Resolve a `/v1/api/ws` caller as IBKR does (ibkr-web-api.md s.12): the `api` cookie
        names a `/tickle` session; an LST's session also needs `?oauth_token=` (the consumer's
        access token), a bearer's session needs none. Anything else is a 401."""
        refused = AuthError(401, {"error": "not authenticated", "statusCode": 401})
        if not session:
            raise refused
        now = self.clock()
        with self._lock:
            issued = next((i for i in self._by_id.values()
                           if i.kind in ("bearer", "lst") and tickle_session(i.token_id) == session),
                          None)
            if issued is None or issued.revoked or issued.expires_at <= now:
                raise refused
            if issued.kind == "lst":
                consumer = self._consumers.get(issued.owner)
                if consumer is None or not oauth_token or oauth_token != consumer.access_token:
                    raise refused
            elif oauth_token:
                raise refused
        return Principal(issued.username, issued.account_id, issued.token_id,
                         "oauth1a" if issued.kind == "lst" else "bearer", issued.expires_at)

    def is_live(self, token_id: str) -> bool:
        """Whether an issued token is still valid (a stream ends with its token)."""
        with self._lock:
            issued = self._by_id.get(token_id)
            return issued is not None and not issued.revoked and issued.expires_at > self.clock()

    def authenticate(self, method: str, path: str, query: str, authorization: str) -> Principal:
        """Resolve the caller of a trading request from a bearer or an OAuth 1.0a header."""
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            with self._lock:
                issued = self._bearers.get(value.strip())
            if issued is None or issued.revoked or issued.expires_at <= self.clock():
                raise AuthError(401, {"error": "invalid, expired or revoked bearer token",
                                      "statusCode": 401})
            kind = "bearer"
        elif scheme.lower() == "oauth":
            issued = self._verify_oauth1(method, path, query, authorization)
            kind = "oauth1a"
        else:
            raise AuthError(401, {"error": "not authenticated", "statusCode": 401})
        return Principal(issued.username, issued.account_id, issued.token_id, kind,
                         issued.expires_at)


def tickle_session(token_id: str) -> str:
    """The `session` a `/tickle` answers for a token; the WebSocket's `api` cookie names it."""
    return hashlib.sha256(token_id.encode()).hexdigest()[:32]
