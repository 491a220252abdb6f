"""OAuth 1.0a: obtain a Live Session Token by Diffie-Hellman, then HMAC-sign every request with it.

Never logged, raised or repr'd: the LST, access token and its secret, the prepend, either RSA
key and the DH secret `a`.
"""

from __future__ import annotations

import base64
import functools
import hmac
import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote_plus

import requests
from pydantic import SecretBytes, SecretStr

from ..common.backoff import RetryPolicy
from ..credentials.models import CredentialRecord, OAuth1aData
from ..credentials.records import coerce_data
from ..errors import AuthError, CredentialError
from ..transport import json_body
from .base import Clock, Token, TokenProvider
from .bounds import MAX_TOKEN_LIFETIME, finite_number
from .cache import TokenCache
from .http import auth_request, problem_detail, raise_for_auth
from .oauth1a_math import (
    authorization_header,
    base_string,
    compute_lst,
    decrypt_prepend,
    dh_challenge,
    generate_nonce,
    quote_b64,
    rsa_sha256_signature,
    strip_query,
    validate_lst,
)
from .oauth1a_math import dh_random as default_dh_random

__all__ = ["LST_PATH", "LiveSessionTokenProvider"]

log = logging.getLogger(__name__)

LST_PATH = "/oauth/live_session_token"
#: Allowed difference between our clock and the server's `Date` before we blame the clock.
CLOCK_SKEW_HINT_SECONDS = 60.0

_SKEW_WORDS = re.compile(r"timestamp|clock|skew|time ?window|expired request", re.IGNORECASE)

_KEY_CAUSES = (
    "check data.consumer_key, data.access_token and data.signature_key (its public half must be "
    "the one registered for this consumer), and data.access_token_secret with data.encryption_key "
    "(the decrypted secret is signed into this request); also check the system clock."
)


@functools.lru_cache(maxsize=512)
def _quoted_path_url(url: str) -> str:
    """Percent-encoded URL (query already removed); clients hit few distinct paths, so cache."""
    return quote_plus(url)


class LiveSessionTokenProvider(TokenProvider):
    """`interactive_brokers_oauth1a`: the token is the LST; `authorize` HMAC-signs each request."""

    scheme = "oauth1a"

    def __init__(
        self,
        credential_data: OAuth1aData | CredentialRecord | Mapping[str, Any],
        *,
        cache: TokenCache | None = None,
        clock: Clock | None = None,
        nonce_factory: Callable[[], str] | None = None,
        dh_random: Callable[[], int] | None = None,
        session: requests.Session | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        buffer_seconds: float | None = None,
        buffer_fraction: float | None = None,
    ) -> None:
        super().__init__(
            cache=cache, clock=clock, buffer_seconds=buffer_seconds, buffer_fraction=buffer_fraction
        )
        self.data = coerce_data(credential_data, OAuth1aData, "OAuth 1.0a")
        self._nonce = nonce_factory or generate_nonce
        self._dh_random = dh_random or default_dh_random
        self._http_session = session
        self._policy = retry_policy or RetryPolicy()
        #: Total seconds per HTTP call (None: the transport's default; `Host` passes Settings').
        self._deadline = deadline
        self._lst_url = f"{self.data.trading_base_url}{LST_PATH}"
        #: The decrypted access token secret, in a holder whose repr is masked.
        self._prepend: SecretStr | None = None
        # Static pieces of every signed request, built once: the signing path is per request.
        # Pieces that hold the access token sit in secret holders, like the token itself.
        consumer_key = self.data.consumer_key
        access_token = self.data.access_token.get_secret_value()
        self._q_head = quote_plus(f"oauth_consumer_key={consumer_key}&oauth_nonce=")
        self._q_mid = quote_plus("&oauth_signature_method=HMAC-SHA256&oauth_timestamp=")
        self._q_tail = SecretStr(quote_plus(f"&oauth_token={access_token}"))
        self._h_head = (
            f'OAuth realm="{self.data.resolved_realm}", oauth_consumer_key="{consumer_key}", '
            'oauth_nonce="'
        )
        self._h_tail = SecretStr(f'", oauth_token="{access_token}"')
        #: (LST value, its decoded bytes): swapped as one tuple so threads never see a mix.
        self._signing: tuple[SecretStr, SecretBytes] | None = None

    # -- TokenProvider -----------------------------------------------------------------------

    @property
    def trading_base_url(self) -> str:
        """Trading endpoints root (the record's host root `api_base_url` + `/v1/api`)."""
        return self.data.trading_base_url

    def _cache_identity(self) -> tuple[str, ...]:
        """Consumer key, base URL, realm and a digest of the secrets (token, secret, both keys)."""
        return (
            self.data.consumer_key,
            self.data.trading_base_url,
            self.data.resolved_realm,
            self.data.secret_digest(),
        )

    def authorize(self, method: str, url: str, headers: MutableMapping[str, str]) -> str:
        """Set the HMAC-SHA256 `Authorization` header for one request; return the LST it used."""
        token = self.current_token()
        signing = self._signing
        if signing is None or signing[0].get_secret_value() != token.value:
            signing = self._signing = (
                SecretStr(token.value),
                SecretBytes(base64.b64decode(token.value)),
            )
        nonce = self._nonce()
        q_nonce = nonce if nonce.isascii() and nonce.isalnum() else quote_plus(nonce)
        timestamp = str(int(self.now()))
        base = (
            f"{method.upper()}&{_quoted_path_url(strip_query(url))}&{self._q_head}{q_nonce}"
            f"{self._q_mid}{timestamp}{self._q_tail.get_secret_value()}"
        )
        key = signing[1].get_secret_value()
        signature = quote_b64(hmac.digest(key, base.encode("utf-8"), "sha256"))
        headers["Authorization"] = (
            f'{self._h_head}{nonce}", oauth_signature="{signature}", '
            f'oauth_signature_method="HMAC-SHA256", oauth_timestamp="{timestamp}'
            f'{self._h_tail.get_secret_value()}'
        )
        return token.value

    def _fetch_new(self) -> Token:
        """POST /oauth/live_session_token with a fresh DH challenge; derive and verify the LST."""
        data = self.data
        signature_key = data.signature_rsa_key()
        prime, generator = data.dh_parameters()
        prepend = self._decrypted_prepend()
        consumer_key = data.consumer_key
        access_token = data.access_token.get_secret_value()
        secret: list[int] = []  # the `a` of the attempt whose answer we read

        def build() -> tuple[dict[str, str], None]:
            """Fresh nonce, timestamp and DH challenge per attempt, so a retry is never a replay."""
            a = self._dh_random()
            secret[:] = [a]
            params = {
                "oauth_consumer_key": consumer_key,
                "oauth_nonce": self._nonce(),
                "oauth_signature_method": "RSA-SHA256",
                "oauth_timestamp": str(int(self.now())),
                "oauth_token": access_token,
                "diffie_hellman_challenge": dh_challenge(a, prime, generator),
            }
            base = base_string("POST", self._lst_url, params, prepend)
            params["oauth_signature"] = rsa_sha256_signature(base, signature_key)
            return {
                "Authorization": authorization_header(params, data.resolved_realm),
                "Accept": "application/json",
            }, None

        log.debug("requesting a live session token from %s", self._lst_url)
        resp = auth_request(
            self._http(),
            "POST",
            self._lst_url,
            what="live session token request",
            policy=self._policy,
            deadline=self._deadline,
            build=build,
        )
        self._raise_for_status(resp)
        b_hex, signature_hex, expires_ms = self._parse(resp)
        b = int(b_hex, 16)
        if not 1 < b < prime - 1:
            raise AuthError(
                "IBKR's diffie_hellman_response is outside the DH group",
                fix="check data.dh_prime: it must be the prime of the dhparam.pem registered "
                "for this consumer.",
            )
        lst = compute_lst(b_hex, secret[0], prime, prepend)
        secret.clear()
        if not validate_lst(lst, consumer_key, signature_hex):
            raise AuthError(
                "the live session token derived locally does not match IBKR's "
                "live_session_token_signature",
                field="data.access_token_secret",
                fix="check that data.access_token_secret and data.encryption_key belong together "
                "(the decrypted secret feeds the LST), and that data.dh_prime is the prime of "
                "the dhparam.pem registered for this consumer.",
            )
        now = self.now()
        expires_at = expires_ms / 1000.0
        if expires_at > now + MAX_TOKEN_LIFETIME:
            raise AuthError(
                "IBKR's live_session_token_expiration is more than "
                f"{MAX_TOKEN_LIFETIME / 86400:.0f} days away",
                field="live_session_token_expiration",
                fix="check data.api_base_url points at the IBKR Web API and the system clock.",
            )
        if expires_at <= now:
            raise AuthError(
                "IBKR's live session token is already expired by this machine's clock",
                fix="check the system clock (enable NTP); it is ahead of IBKR's.",
            )
        log.info(
            "live session token obtained; expires in %.0f s (consumer %s)",
            expires_at - now,
            consumer_key,
        )
        return Token(value=lst, expires_at=expires_at, obtained_at=now, scheme=self.scheme)

    # -- helpers -----------------------------------------------------------------------------

    def _http(self) -> requests.Session:
        """The injected session, or one made on first use (a cached LST needs no HTTP at all)."""
        if self._http_session is None:
            self._http_session = requests.Session()
        return self._http_session

    def _decrypted_prepend(self) -> str:
        """Decrypt the access token secret once per provider; errors name both fields involved."""
        if self._prepend is None:
            key = self.data.encryption_rsa_key()
            try:
                self._prepend = SecretStr(decrypt_prepend(
                    self.data.access_token_secret.get_secret_value(), key
                ))
            except ValueError as exc:
                raise CredentialError(
                    f"{exc} (data.encryption_key)",
                    field="data.access_token_secret",
                    fix="use the access token secret the IBKR portal showed for this consumer, "
                    "unchanged, and set data.encryption_key to the private key whose public half "
                    "you uploaded as the encryption key (not the signature key).",
                ) from None
        return self._prepend.get_secret_value()

    def _raise_for_status(self, resp: requests.Response) -> None:
        """Map IBKR's refusals to errors that say what to fix."""
        status = resp.status_code
        if 200 <= status < 300:
            return
        detail = problem_detail(resp)
        what = "live session token request"
        if status == 401 and "invalid consumer" in detail.lower():
            raise AuthError(
                f"{what} was refused: HTTP 401 ({detail})",
                status=status,
                field="data.consumer_key",
                fix="IBKR activates a newly registered consumer only after a delay (often until "
                "the next day): if it is new, retry later. Otherwise "
                + _KEY_CAUSES,
            )
        skew = self._clock_skew(resp)
        if status in (400, 401) and (_SKEW_WORDS.search(detail) or skew is not None):
            hint = f" (this machine is {skew:+.0f} s off the server's clock)" if skew else ""
            raise AuthError(
                f"{what} was refused: HTTP {status} ({detail}){hint}",
                status=status,
                fix="the oauth_timestamp was rejected: check the system clock (enable NTP).",
            )
        if status == 410:
            raise AuthError(
                f"{what} was refused: HTTP 410 ({detail})",
                status=status,
                fix="IBKR says the session is gone: retry later; if it persists, the access "
                "token was revoked; create a new one in the IBKR portal and update "
                "data.access_token and data.access_token_secret.",
            )
        raise_for_auth(resp, what, _KEY_CAUSES)

    def _clock_skew(self, resp: requests.Response) -> float | None:
        """Seconds our clock is ahead of the server's `Date`, when beyond the hint threshold."""
        value = resp.headers.get("Date")
        if not value:
            return None
        import email.utils  # only on a refusal

        try:
            server = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        skew = self.now() - server
        return skew if abs(skew) > CLOCK_SKEW_HINT_SECONDS else None

    @staticmethod
    def _parse(resp: requests.Response) -> tuple[str, str, float]:
        """Read (B hex, LST signature hex, expiration ms); the body itself never goes in errors."""
        try:
            body = json_body(resp)
            b_hex = str(body["diffie_hellman_response"]).strip().lower().removeprefix("0x")
            signature_hex = str(body["live_session_token_signature"])
            expires_ms = finite_number(body["live_session_token_expiration"])
            if expires_ms is None:
                raise ValueError("not a finite number")
            int(b_hex, 16)
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                "IBKR's live session token answer lacks diffie_hellman_response, "
                "live_session_token_signature or live_session_token_expiration",
                status=resp.status_code,
                fix="check data.api_base_url points at the IBKR Web API (/v1/api is appended).",
            ) from None
        return b_hex, signature_hex, expires_ms
