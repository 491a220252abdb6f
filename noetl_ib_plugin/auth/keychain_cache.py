"""A token cache shared by every worker host through NoETL's keychain API, over the host's files.

Source of the API: NoETL's server (`GET/POST/DELETE /api/keychain/{catalog_id}/{name}`,
``?scope_type=global``; POST body ``{data, scope_type, execution_id, expires_in}``; GET answers
``{status: found|expired|not_found, data, expires_at}``), see ../shared/noetl.md. Entries are
stored encrypted by the server (envelope AES-256-GCM); this module puts there only the token
entry the file cache holds (the bearer or Live Session Token, its expiry, and the brokerage
session state that rides on it), never a private key.

Layering: `lock` is the host's file lock (one process per host fetches); `load` reads the shared
entry first and mirrors it into the host file, else falls back to the host file; `store`
writes both. The keychain has no compare-and-set, so hosts that start cold together elect a
fetcher with a *claim*: each writes ``{owner}`` to the entry, waits `settle` seconds and reads
it back; the last writer wins and fetches, the others poll until its token appears (at most
`wait` seconds, then they fetch themselves), and then up to `state_wait` seconds more for the
brokerage session the winner opens, which rides in the same entry, so they reuse it instead of
competing for the username's one session. Two hosts fetch only when one reads back its claim
before another host's claim lands, i.e. when their claim round trips are more than `settle`
apart; `bench/bench_worker_pool.py` measures it.

What crosses the keychain (both ways) is the token entry with its `state` cut down to
`SHARED_STATE_HINTS`: when this token's brokerage session was opened, a hint IBKR re-checks
(a wrong one costs a "no bridge" and a reopen). Accounts, the selected account, `isPaper` and
session flags never cross: the server could rewrite them, so the process that trades asks IBKR
(client/trading_guard.py) and the host file never receives them from the keychain.

A keychain that does not answer (refused, timed out, cut at its deadline) is remembered per
host for `down_period` seconds (`keychain_down.py`: a small owner- and mode-checked file beside
the host's token files), so later steps, fresh processes included, use the host's files at
once; after the period one call probes the server again.

The shared layer is best effort: if the server is unreachable or answers an unknown shape, the
host file cache alone is used (a warning in the log), which is what a step did before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from ..credentials.stores import SERVER_DEADLINE, SERVER_MAX_BYTES, check_server_url
from ..errors import ConfigurationError, RedirectRefused, ResponseTooLarge
from ..transport import ensure_limits, limited_session
from .bounds import finite_number
from .cache import TokenCache, valid_entry
from .keychain_down import DEFAULT_DOWN_PERIOD, KeychainDown

__all__ = ["SHARED_STATE_HINTS", "KeychainTokenCache", "contains_private_key", "hints_only",
           "keychain_layer_over"]

log = logging.getLogger(__name__)

TOKEN_KIND = "noetl-ib-token"
CLAIM_KIND = "noetl-ib-claim"
#: Names a keychain entry may never carry, at any depth (the plugin never puts them there).
_FORBIDDEN_KEYS = frozenset(
    {"private_key", "signature_key", "encryption_key", "access_token_secret", "client_secret"}
)
_PEM_MARK = "PRIVATE KEY-----"
#: The only state that crosses the keychain: per state name, one epoch-seconds stamp.
SHARED_STATE_HINTS = {"brokerage": "opened_at", "portfolio": "session_opened_at"}
#: A hint stamped further than this in this host's future is not believed (seconds).
_HINT_SKEW = 300.0
#: What a keychain call that did not work raises: the shared layer then steps aside.
_UNUSABLE = (requests.RequestException, RedirectRefused, ResponseTooLarge)


def hints_only(entry: dict[str, Any], now: float) -> dict[str, Any]:
    """`entry` with its `state` cut down to `SHARED_STATE_HINTS` stamps that are finite,
    positive and not past `now` + 300 s; every other state field is dropped."""
    out = {k: v for k, v in entry.items() if k != "state"}
    state = entry.get("state")
    kept: dict[str, Any] = {}
    for name, stamp_field in SHARED_STATE_HINTS.items():
        part = state.get(name) if isinstance(state, dict) else None
        stamp = finite_number(part.get(stamp_field)) if isinstance(part, dict) else None
        if stamp is not None and 0 < stamp <= now + _HINT_SKEW:
            kept[name] = {stamp_field: stamp}
    if kept:
        out["state"] = kept
    return out


def contains_private_key(value: Any) -> bool:
    """True when `value` holds a PEM private key or a field named like one, at any depth."""
    if isinstance(value, str):
        return _PEM_MARK in value
    if isinstance(value, dict):
        return any(
            str(k).lower() in _FORBIDDEN_KEYS or contains_private_key(v) for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return any(contains_private_key(v) for v in value)
    return False


class KeychainTokenCache:
    """`TokenCache` on `{server_url}/api/keychain/{catalog_id}/noetl-ib-<key>`, layered over `local`.

    `clock` (epoch seconds), `sleep` and `owner` (the claim's id) are injectable for tests.
    HTTP calls use `timeout` (connect, read) seconds within a total `deadline` (seconds), read
    at most SERVER_MAX_BYTES, never follow a redirect; every wait ends after `wait` seconds.
    `server_url` must pass the one URL rule (credentials/urls.py: https unless loopback, no
    userinfo; plain http to a host in `trusted_http_hosts` too), else ConfigurationError. A
    shared entry failing `cache.valid_entry` is a miss.
    """

    def __init__(
        self,
        server_url: str,
        catalog_id: str,
        local: TokenCache,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        settle: float = 0.5,
        poll: float = 0.2,
        wait: float = 30.0,
        claim_ttl: int = 30,
        await_state: str | None = "brokerage",
        state_wait: float = 10.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        owner: str | None = None,
        deadline: float = SERVER_DEADLINE,
        down_period: float = DEFAULT_DOWN_PERIOD,
        trusted_http_hosts: Collection[str] = (),
    ) -> None:
        self.server_url = check_server_url(server_url, trusted_http_hosts=trusted_http_hosts)
        self.catalog_id = str(catalog_id)
        self.local = local
        if session is None:
            session = limited_session(deadline=deadline, max_bytes=SERVER_MAX_BYTES)
        else:
            ensure_limits(session, self.server_url)
        self._http = session
        self.timeout = timeout
        self.settle = settle
        self.poll = poll
        self.wait = wait
        self.claim_ttl = claim_ttl
        #: State a peer that won the election is expected to add (client.brokerage_session.BROKERAGE_STATE).
        self.await_state = await_state
        self.state_wait = state_wait
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: Whether this keychain is known not to answer (remembered per host for down_period s).
        self.down = KeychainDown(
            self.directory,
            hashlib.sha256(f"{self.server_url}\x1f{self.catalog_id}".encode()).hexdigest()[:16],
            period=down_period, clock=self._clock)

    # -- the keychain API --------------------------------------------------------------------

    def _url(self, key: str) -> str:
        if not key or not all(c.isalnum() or c in "-_" for c in key):
            raise ValueError("cache keys are fingerprints: letters, digits, '-' and '_' only")
        name = quote(f"noetl-ib-{key}", safe="")
        return f"{self.server_url}/api/keychain/{quote(self.catalog_id, safe='')}/{name}"

    def _get(self, key: str) -> dict[str, Any] | None:
        """The entry's `data` when found; None when absent, expired, unreadable or known down."""
        if self.down.is_down():
            return None
        try:
            resp = self._http.get(self._url(key), params={"scope_type": "global"},
                                     timeout=self.timeout, allow_redirects=False)
        except _UNUSABLE as exc:
            self._unreachable(exc, "using this host's token cache")
            return None
        if resp.status_code == 404:
            return None
        try:
            body = resp.json() if resp.status_code == 200 else None
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("found", "expired", "not_found"):
            log.warning("NoETL keychain answered HTTP %s with an unknown shape; using this host's "
                        "token cache", resp.status_code)
            return None
        data = body.get("data")
        if body["status"] != "found" or not isinstance(data, dict):
            return None
        return data

    def _post(self, key: str, data: dict[str, Any], expires_in: int) -> bool:
        """Write the shared entry (scope global); False when the server did not take it."""
        if contains_private_key(data):
            log.error("refusing to share a token cache entry that holds private key material")
            return False
        if self.down.is_down():
            return False
        body = {"data": data, "scope_type": "global", "expires_in": max(1, int(expires_in))}
        resp = None
        for attempt in (1, 2):
            try:
                resp = self._http.post(self._url(key), json=body, timeout=self.timeout,
                                          allow_redirects=False)
                break
            except requests.ConnectionError as exc:
                # The write is an upsert of the same body, so resending is harmless; a pooled
                # keep-alive connection the server closed while idle fails exactly this way.
                if attempt == 2 or isinstance(exc, requests.Timeout):
                    self._unreachable(exc, "token kept on this host only")
                    return False
            except _UNUSABLE as exc:
                self._unreachable(exc, "token kept on this host only")
                return False
        assert resp is not None
        if not 200 <= resp.status_code < 300:
            log.warning("NoETL keychain refused the token entry (HTTP %s)", resp.status_code)
            return False
        return True

    # -- TokenCache --------------------------------------------------------------------------

    def load(self, key: str) -> dict[str, Any] | None:
        """The shared token entry (mirrored into the host file), else the host file's entry."""
        entry = self._shared_entry(key, self._get(key))
        if entry is not None:
            with contextlib.suppress(OSError):
                self.local.store(key, entry)
            return dict(entry)
        return self.local.load(key)

    def store(self, key: str, entry: dict[str, Any]) -> None:
        """Write the host file, then the shared entry with the token's remaining life as expiry."""
        self.local.store(key, entry)
        try:
            expires_in = float(entry["expires_at"]) - self._clock()
        except (KeyError, TypeError, ValueError):
            return
        if expires_in > 0:
            shared = hints_only(entry, self._clock())
            self._post(key, {"kind": TOKEN_KIND, "key": key, "entry": shared}, int(expires_in))

    def delete(self, key: str) -> None:
        """Drop both copies (a 401 invalidation must reach every host)."""
        self.local.delete(key)
        if self.down.is_down():
            log.warning("NoETL keychain not answering lately; shared token not deleted")
            return
        try:
            self._http.delete(self._url(key), params={"scope_type": "global"},
                                 timeout=self.timeout, allow_redirects=False)
        except _UNUSABLE as exc:
            self._unreachable(exc, "shared token not deleted")

    def _unreachable(self, exc: BaseException, consequence: str) -> None:
        """Log a keychain call that did not work; one that got no answer at all (refused,
        timed out, cut at its deadline) is remembered for this host's next steps."""
        if not isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            log.warning("NoETL keychain unusable (%s); %s", type(exc).__name__, consequence)
            return
        log.warning("NoETL keychain unreachable (%s); %s; not asked again for %.0f s on this "
                    "host", type(exc).__name__, consequence, self.down.period)
        self.down.mark()

    def lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """The host's lock: one process per host reads, fetches and writes at a time."""
        return self.local.lock(key)

    @property
    def directory(self) -> Path | None:
        """The host cache's directory: host-wide lock files and shared pacing live beside it."""
        found = getattr(self.local, "directory", None)
        return Path(found) if found is not None else None

    # -- electing one fetcher across hosts ----------------------------------------------------

    def claim_fetch(self, key: str, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """Called under `lock` before a fetch: a token a peer fetched (`accept`ed), else None to fetch."""
        deadline = self._clock() + self.wait
        peer_won = False
        state_deadline: float | None = None
        while True:
            data = self._get(key)
            entry = self._shared_entry(key, data)
            now = self._clock()
            if entry is not None and accept(entry):
                if peer_won and self._state_pending(entry):
                    # The winner is opening the brokerage session; reuse it instead of competing.
                    state_deadline = state_deadline or now + self.state_wait
                    if now < state_deadline:
                        self._sleep(self.poll)
                        continue
                with contextlib.suppress(OSError):
                    self.local.store(key, entry)
                return dict(entry)
            claim = data if data and data.get("kind") == CLAIM_KIND else None
            claimed_at = finite_number(claim.get("at")) if claim is not None else None
            live = claimed_at is not None and claimed_at + self.claim_ttl > now
            if claim is not None and live and claim.get("owner") == self.owner:
                return None  # our claim survived the settle time: we fetch
            peer_won = peer_won or live
            if now >= deadline:
                log.warning("no peer token after %.0fs; fetching on this host", self.wait)
                return None
            if not live:
                if not self._post(key, {"kind": CLAIM_KIND, "owner": self.owner, "at": now},
                                  self.claim_ttl):
                    return None  # the shared layer is not working: behave like a lone host
                self._sleep(self.settle)
            else:
                self._sleep(self.poll)

    def _shared_entry(self, key: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
        """The token entry in a keychain answer, or None: another key's entry or a damaged one is a miss.

        The server's answer gets the file cache's checks (`valid_entry`: finite, bounded times, a
        printable token, dict state), and must name `key`, so a wrong or planted entry (another
        credential's token, a token "valid" until the year 10^300) is never used; its state is
        cut down to `hints_only` before anyone (the host file included) sees it.
        """
        if not data or data.get("kind") != TOKEN_KIND or data.get("key") != key:
            return None
        entry = data.get("entry")
        if not valid_entry(entry):
            log.warning("ignoring a malformed shared token entry from the NoETL keychain")
            return None
        assert isinstance(entry, dict)
        return hints_only(entry, self._clock())

    def _state_pending(self, entry: dict[str, Any]) -> bool:
        """True while the awaited state (the brokerage session) is not in the entry yet."""
        if not self.await_state:
            return False
        state = entry.get("state")
        return not (isinstance(state, dict) and isinstance(state.get(self.await_state), dict))

    def __repr__(self) -> str:
        return f"KeychainTokenCache({self.server_url!r}, catalog_id={self.catalog_id!r})"


def keychain_layer_over(
    local: TokenCache, server: str | None, catalog: str | None, *, required: bool = False,
    trusted_http_hosts: Collection[str] = (),
) -> KeychainTokenCache | None:
    """The keychain layer over `local` for NoETL server `server` and catalog `catalog`, or None
    when it cannot be used.

    The caller (`Host`) picks them: the step's `server_url`, else ``$NOETL_SERVER_URL``; the
    catalog id ``$NOETL_IB_KEYCHAIN_CATALOG_ID``, else the step's `catalog_id`. With `required`
    (``NOETL_IB_TOKEN_CACHE=keychain``) a missing one is a ConfigurationError.
    `trusted_http_hosts` (``$NOETL_IB_HTTP_SERVER_HOSTS``) may take a plain-http server.
    """
    if not server or not catalog:
        if required:
            missing = "NOETL_SERVER_URL" if not server else "NOETL_IB_KEYCHAIN_CATALOG_ID"
            raise ConfigurationError(
                "is needed to share tokens through the NoETL keychain",
                field=missing,
                fix=f"set {missing} (e.g. export NOETL_SERVER_URL=http://noetl:8082, "
                "NOETL_IB_KEYCHAIN_CATALOG_ID=<a catalog id>), or unset NOETL_IB_TOKEN_CACHE.",
            )
        return None
    try:
        server = check_server_url(server, trusted_http_hosts=trusted_http_hosts)
    except ConfigurationError:
        if required:
            raise
        log.warning("NoETL keychain not used: its server URL fails the https rule; tokens stay "
                    "in this host's cache (set %s to trust an in-cluster http server)",
                    "NOETL_IB_HTTP_SERVER_HOSTS")
        return None
    return KeychainTokenCache(server, str(catalog), local, trusted_http_hosts=trusted_http_hosts)
