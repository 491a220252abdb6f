"""OAuth 2.0 for IBKR: private_key_jwt client credentials, then the SSO session whose bearer trades."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import requests

from ..common.backoff import RetryPolicy
from ..credentials.models import CredentialRecord, OAuth2Data
from ..credentials.records import coerce_data
from ..errors import AuthError
from ..transport import json_body
from .base import Clock, Token, TokenProvider
from .bounds import finite_number, token_lifetime
from .cache import TokenCache
from .http import auth_refused, auth_request, raise_for_auth

__all__ = ["IBTokenProvider"]

log = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

TOKEN_CAUSES = (
    "check that key_id is the id IBKR shows for the registered public key, that the public half "
    "of this private key is registered for client_id, that the system clock is correct "
    "(assertions are valid for about 20 s), and that audience matches what IBKR expects "
    "(default '/token')."
)
SSO_CAUSES = (
    "check that data.username is the IBKR username this client may open sessions for, that "
    "data.ip (if set) is your public IP, and that the client has the sso-sessions.write scope."
)


class IBTokenProvider(TokenProvider):
    """Fetches, caches and refreshes the SSO bearer the IBKR trading API accepts."""

    scheme = "oauth2"
    #: Refresh this long before expiry at most (the effective buffer is also <= 10 % of the life).
    DEFAULT_BUFFER_SECONDS = 300.0

    def __init__(
        self,
        credential_data: OAuth2Data | CredentialRecord | Mapping[str, Any],
        *,
        cache: TokenCache | None = None,
        clock: Clock | None = None,
        jti_factory: Callable[[], str] | None = None,
        session: requests.Session | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        buffer_seconds: float | None = None,
        buffer_fraction: float | None = None,
        assertion_lifetime: float = 20.0,
        assertion_backdate: float = 10.0,
        sso_lifetime: float = 86400.0,
        timeout: tuple[float, float] = (5.0, 20.0),
    ) -> None:
        self.data = coerce_data(credential_data, OAuth2Data, "OAuth 2.0")
        super().__init__(
            cache=cache, clock=clock, buffer_seconds=buffer_seconds, buffer_fraction=buffer_fraction
        )
        self._jti: Callable[[], str] = jti_factory or (lambda: uuid.uuid4().hex)
        self._http_session = session
        self._policy = retry_policy or RetryPolicy()
        #: Total seconds per HTTP call (None: the transport's default; `Host` passes Settings').
        self._deadline = deadline
        self.assertion_lifetime = assertion_lifetime
        self.assertion_backdate = assertion_backdate
        self.sso_lifetime = sso_lifetime
        self.timeout = timeout

    # -- seam ------------------------------------------------------------------------------

    @property
    def trading_base_url(self) -> str:
        return self.data.trading_base_url

    def _cache_identity(self) -> tuple[str, ...]:
        d = self.data
        return (
            d.resolved_token_url,
            d.resolved_sso_session_url,
            d.client_id,
            d.key_id,
            d.username,
            d.audience,
            d.scope,
            # The SSO session's claims and where the bearer is used change what the token is.
            d.ip or "",
            d.ip_claim,
            d.service or "",
            d.trading_base_url,
            d.secret_digest(),
        )

    def authorize(self, method: str, url: str, headers: MutableMapping[str, str]) -> str:
        """Bearer auth: the same header for every request until the token changes."""
        token = self.current_token().value
        headers["Authorization"] = f"Bearer {token}"
        return token

    # -- assertions --------------------------------------------------------------------------

    def _sign(self, claims: dict[str, Any]) -> str:
        import jwt

        log.debug("signing an RS256 assertion (kid=%s, aud=%s, claims: %s)", self.data.key_id,
                  claims.get("aud"), ", ".join(sorted(claims)))
        return jwt.encode(
            claims,
            self.data.rsa_key(),
            algorithm="RS256",
            headers={"kid": self.data.key_id, "typ": "JWT"},
        )

    def client_assertion(self) -> str:
        """A fresh RS256 client assertion (RFC 7523); never reused, so every call signs anew."""
        now = int(self.now())
        return self._sign(
            {
                "iss": self.data.client_id,
                "sub": self.data.client_id,
                "aud": self.data.audience,
                "iat": int(now - self.assertion_backdate),
                "exp": int(now + self.assertion_lifetime),
                "jti": self._jti(),
            }
        )

    def sso_session_jwt(self) -> str:
        """The signed body of the SSO session request (claims per the credential record)."""
        now = int(self.now())
        claims: dict[str, Any] = {
            "iss": self.data.client_id,
            "credential": self.data.username,  # IBKR's claim name for the username
            "iat": now,
            "exp": int(now + self.sso_lifetime),
            "jti": self._jti(),
        }
        if self.data.ip:
            claims[self.data.ip_claim] = self.data.ip
        if self.data.service:
            claims["service"] = self.data.service
        return self._sign(claims)

    # -- fetching ----------------------------------------------------------------------------

    def _http(self) -> requests.Session:
        if self._http_session is None:
            self._http_session = requests.Session()
        return self._http_session

    def _access_token(self) -> tuple[str, float]:
        """Step 1a: exchange a client assertion for an access token."""
        url = self.data.resolved_token_url

        def build() -> tuple[dict[str, str], dict[str, str]]:
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": self.client_assertion(),
                "scope": self.data.scope,
            }
            return {"Content-Type": "application/x-www-form-urlencoded"}, form

        obtained = self.now()
        resp = auth_request(
            self._http(),
            "POST",
            url,
            what="OAuth 2.0 token request",
            policy=self._policy,
            deadline=self._deadline,
            build=build,
            timeout=self.timeout,
        )
        raise_for_auth(resp, "OAuth 2.0 token request", TOKEN_CAUSES)
        body = _json_object(resp, "OAuth 2.0 token response")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(
                "OAuth 2.0 token response has no usable access_token/expires_in",
                status=resp.status_code,
                fix="check token_url points at IBKR's /oauth2/api/v1/token endpoint.",
            )
        expires_in = token_lifetime(body.get("expires_in"), what="OAuth 2.0 token response",
                                    field="expires_in", status=resp.status_code)
        log.info("OAuth 2.0 access token obtained (expires_in=%.0fs)", expires_in)
        return token, obtained + expires_in

    def _sso_bearer(self, access_token: str) -> tuple[requests.Response, str | None]:
        """Step 1b: open the SSO session; returns the response and the bearer if one came back."""
        url = self.data.resolved_sso_session_url

        def build() -> tuple[dict[str, str], bytes]:
            return {
                "Authorization": f"Bearer {access_token}",
                "Content-Type": "application/jwt",
            }, self.sso_session_jwt().encode("ascii")

        resp = auth_request(
            self._http(),
            "POST",
            url,
            what="SSO session request",
            policy=self._policy,
            deadline=self._deadline,
            build=build,
            timeout=self.timeout,
        )
        if not 200 <= resp.status_code < 300:
            return resp, None
        body = _json_object(resp, "SSO session response")
        bearer = body.get("access_token")
        if not isinstance(bearer, str) or not bearer:
            raise AuthError(
                "SSO session response has no access_token",
                status=resp.status_code,
                fix="check sso_session_url points at IBKR's /gw/api/v1/sso-sessions endpoint.",
            )
        return resp, bearer

    def _reusable_access_token(self) -> tuple[str, float, float] | None:
        """The last access token, if at least half its life is left.

        A bearer never outlives the access token that minted it, so reusing one near its end
        would mint ever shorter bearers in a loop; past half-life we fetch a new one instead.
        """
        candidates = [self._token]
        entry = self._cache.load(self.cache_key)
        if entry:
            candidates.append(Token.from_entry(entry))
        for token in candidates:
            if token is None:
                continue
            # Any sharer of the cache (a NoETL keychain included) can write these: numbers
            # that are not finite, or not numbers, make the entry unusable, never a crash.
            value = token.extra.get("access_token")
            expires = finite_number(token.extra.get("access_expires_at"))
            obtained = finite_number(token.extra.get("access_obtained_at", token.obtained_at))
            if isinstance(value, str) and expires is not None and obtained is not None:
                life = max(0.0, expires - obtained)
                if expires - self.now() >= life / 2:
                    return value, expires, obtained
        return None

    def _fetch_new(self) -> Token:
        obtained = self.now()
        reused = self._reusable_access_token()
        if reused is not None:
            access, access_expires, access_obtained = reused
        else:
            access_obtained = obtained
            access, access_expires = self._access_token()
        resp, bearer = self._sso_bearer(access)
        if bearer is None and reused is not None and resp.status_code in (401, 403):
            log.info("cached access token refused by the SSO endpoint; fetching a new one")
            access_obtained = self.now()
            access, access_expires = self._access_token()
            resp, bearer = self._sso_bearer(access)
        if bearer is None:
            raise auth_refused(resp, "SSO session request", SSO_CAUSES)
        expires = min(access_expires, obtained + self.sso_lifetime)
        bearer_exp = _jwt_exp(bearer)
        if bearer_exp is not None:
            expires = min(expires, bearer_exp)
        log.info("SSO bearer obtained (expires in %.0fs)", expires - obtained)
        return Token(
            value=bearer,
            expires_at=expires,
            obtained_at=obtained,
            scheme=self.scheme,
            extra={
                "access_token": access,
                "access_expires_at": access_expires,
                "access_obtained_at": access_obtained,
            },
        )


def _json_object(resp: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = json_body(resp)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AuthError(
            f"{what} is not a JSON object (HTTP {resp.status_code})",
            status=resp.status_code,
            fix="check the endpoint URL in the credential record.",
        )
    return body


def _jwt_exp(token: str) -> float | None:
    """The `exp` of a JWT bearer, read without verification (we only shorten our trust)."""
    if token.count(".") != 2:
        return None
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return finite_number(claims.get("exp"))
