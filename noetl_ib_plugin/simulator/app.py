"""The in-process Simulator: server lifecycle, built-in clients and test-facing helpers."""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from . import state
from .engine import Engine
from .keys import (
    OAUTH1A_ACCOUNT,
    OAUTH2_ACCOUNT,
    SimKeys,
    credential_records,
    encrypt_secret,
    generate_keys,
    public_pem,
    write_credentials,
)
from .lst import RFC3526_PRIME_HEX
from .server import SimHTTPServer
from .ws import StreamSettings

__all__ = ["Simulator"]

log = logging.getLogger("noetl_ib_plugin.simulator")


class Simulator:
    """An IBKR Web API paper broker on loopback, speaking OAuth 2.0 and OAuth 1.0a for real."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = 0,
        state_dir: str | Path | None = None,
        *,
        pacing: bool = True,
        seed: int = 1,
        token_ttl: float = 86399,
        sso_ttl: float = 86400,
        lst_ttl: float = 86400,
        session_idle_timeout: float = 360,
        faults: Mapping[str, Any] | None = None,
        pacing_overrides: Mapping[str, tuple[int, float]] | None = None,
        pacing_leniency: float = 0.05,
        positions_page_size: int = 100,
        bulk_positions: int = 0,
        keys: SimKeys | None = None,
        default_clients: bool = True,
        public_url: str | None = None,
        reply_ttl: float = 120.0,
        cancel_delay: float = 0.0,
        enforce_coid_unique: bool = True,
        live_orders_scope: str = "session",
        order_warnings: Iterable[str] = (),
        combine_questions: bool = False,
        pending_submit_s: float = 0.0,
        partial_fill_lot: float = 0.0,
        clock: Callable[[], float] = time.time,
        bridge_warmup: float = 1.0,
        accounts_first: bool = True,
        single_session: bool = True,
        uninitialised: str = "no bridge",
        require_jti: bool = False,
        check_ip: bool = False,
        penalty_seconds: float = 600.0,
        penalty_strikes: int = 3,
        retry_after: bool = True,
        options: Mapping[str, Any] | None = None,
        ws_heartbeat_s: float = 10.0,
        ws_quote_interval_s: float = 0.5,
    ) -> None:
        """Configure; nothing listens until start().

        IBKR-like by default; tests relax with `bridge_warmup=0` (seconds `/iserver/accounts`
        answers `{}` after `ssodh/init`), `accounts_first=False` (no 500 "Please query /accounts
        first"), `single_session=False` (no kicks between sessions of one username),
        `penalty_seconds=0` (no penalty box). `uninitialised` is "no bridge" or "init session
        first". `ws_heartbeat_s` and `ws_quote_interval_s` time the `/v1/api/ws` stream (heartbeat
        and market data periods; `stream` changes them at run time). `require_jti` refuses client
        assertions without `jti`; `check_ip` compares the SSO `ip` claim
        with the caller. `options` sets any option of `set_order_options` (README
        "Orders" and "Accounts", e.g. `{"linked_accounts": 0}` for single-account logins). With
        `state_dir`, keys, a given port, user registrations
        and the order book survive a restart; `port=None` reuses the port a previous run with
        this `state_dir` was given.
        """
        self.host = host
        self._state_dir = Path(state_dir) if state_dir is not None else None
        if port is None:  # the port a previous run was given, else a free one
            port = (state.load_port(self._state_dir) if self._state_dir else None) or 0
        elif port and self._state_dir is not None:
            state.save_port(self._state_dir, port)
        self.port: int = port
        self._own_state_dir = False
        self._public_url = public_url
        self._default_clients = default_clients
        self.keys = keys
        self.engine = Engine(
            seed=seed, clock=clock, pacing=pacing, pacing_overrides=pacing_overrides,
            pacing_leniency=pacing_leniency, positions_page_size=positions_page_size,
            bulk_positions={OAUTH1A_ACCOUNT: bulk_positions} if bulk_positions else None,
        )
        self.token_ttl, self.sso_ttl, self.lst_ttl = token_ttl, sso_ttl, lst_ttl
        self.session_idle_timeout = session_idle_timeout
        self.engine.broker.reply_ttl = reply_ttl
        rules = self.engine.broker.rules
        rules.bridge_warmup, rules.accounts_first = float(bridge_warmup), accounts_first
        rules.single_session, rules.uninitialised = single_session, uninitialised
        self.engine.auth.require_jti, self.engine.auth.check_ip = require_jti, check_ip
        self.engine.pacer.penalty_seconds = float(penalty_seconds)
        self.engine.pacer.penalty_strikes = penalty_strikes
        self.engine.retry_after_header = retry_after
        self.engine.state_dir = self._state_dir
        self.engine.broker.cancel_delay = cancel_delay
        self.engine.broker.set_order_options(
            enforce_coid_unique=enforce_coid_unique, live_orders_scope=live_orders_scope,
            order_warnings=list(order_warnings), combine_questions=combine_questions,
            pending_submit_s=pending_submit_s, partial_fill_lot=partial_fill_lot,
            **dict(options or {}),
        )
        if faults:
            self.engine.faults.set(dict(faults))
        #: `/v1/api/ws` timings, read by every stream session as it runs.
        self.stream = StreamSettings(heartbeat_s=float(ws_heartbeat_s),
                                     quote_interval_s=float(ws_quote_interval_s))
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._credentials_file: Path | None = None
        self.credentials: list[dict[str, Any]] = []

    # -- lifetimes settable at any time ---------------------------------------------------------
    @property
    def token_ttl(self) -> float:
        """OAuth 2.0 access token lifetime (expires_in), seconds."""
        return self.engine.auth.token_ttl

    @token_ttl.setter
    def token_ttl(self, value: float) -> None:
        self.engine.auth.token_ttl = float(value)

    @property
    def sso_ttl(self) -> float:
        """SSO bearer lifetime, seconds."""
        return self.engine.auth.sso_ttl

    @sso_ttl.setter
    def sso_ttl(self, value: float) -> None:
        self.engine.auth.sso_ttl = float(value)

    @property
    def lst_ttl(self) -> float:
        """Live session token lifetime, seconds."""
        return self.engine.auth.lst_ttl

    @lst_ttl.setter
    def lst_ttl(self, value: float) -> None:
        self.engine.auth.lst_ttl = float(value)

    @property
    def session_idle_timeout(self) -> float:
        """Seconds without requests after which a brokerage session is dropped."""
        return self.engine.broker.session_idle_timeout

    @session_idle_timeout.setter
    def session_idle_timeout(self, value: float) -> None:
        self.engine.broker.session_idle_timeout = float(value)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind, register the built-in clients, write credentials.json and serve in a thread."""
        if self._server is not None:
            return self
        server = SimHTTPServer((self.host, self.port), self.engine, self.stream)
        self._server = server
        self.port = server.server_address[1]
        try:
            self.engine.auth.public_url = self._public_url or self.url
            if self._default_clients:
                self._install_default_clients()
            if self._state_dir is not None and not self._own_state_dir:
                for entry in state.load_registrations(self._state_dir):
                    try:
                        state.register(self.engine.services, entry, None)
                    except (TypeError, ValueError) as exc:
                        log.warning("ignoring a saved registration: %s", exc)
                state.load_book(self._state_dir, self.engine.services)
        except BaseException:
            # Not serving yet: stop()'s shutdown() would wait forever for serve_forever.
            self._server = None
            server.server_close()
            raise
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"ibsim-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close keep-alive connections and remove a temp state dir we created."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._state_dir is not None and not self._own_state_dir:
            state.save_book(self._state_dir, self.engine.services)
        if self._own_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        """Start on entry."""
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def url(self) -> str:
        """The host root, e.g. http://127.0.0.1:54321 (the trading API lives under /v1/api)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket URL, e.g. ws://127.0.0.1:54321/v1/api/ws (same port as REST)."""
        return f"ws://{self.host}:{self.port}/v1/api/ws"

    @property
    def api_url(self) -> str:
        """The trading base URL."""
        return f"{self.url}/v1/api"

    @property
    def credentials_file(self) -> Path:
        """Path of credentials.json (written at start when default clients are enabled)."""
        if self._credentials_file is None:
            raise RuntimeError("simulator not started or default_clients=False")
        return self._credentials_file

    def _install_default_clients(self) -> None:
        """Register sim_oauth2 and sim_oauth1a and write their credential records."""
        reused = False
        if self.keys is None and self._state_dir is not None:
            self.keys = state.load_keys(self._state_dir)
            reused = self.keys is not None
        if self.keys is None:
            self.keys = generate_keys()
            if self._state_dir is not None:
                state.save_keys(self._state_dir, self.keys)
        keys = self.keys
        self.register_oauth2_client(keys.client_id, keys.key_id, public_pem(keys.oauth2_key),
                                    keys.username, OAUTH2_ACCOUNT)
        self.register_oauth1a_consumer(
            keys.consumer_key, keys.access_token, public_pem(keys.signature_key),
            keys.oauth1a_username, OAUTH1A_ACCOUNT,
            access_token_secret=keys.access_token_secret_plain,
        )
        self.credentials = credential_records(keys, self.url)
        if self._state_dir is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix="ibsim-"))
            self._own_state_dir = True
        path = self._state_dir / "credentials.json"
        kept = state.same_credentials(path, self.credentials) if reused else None
        if kept is not None:  # byte-identical file: the RSA-encrypted secret is randomised
            self.credentials, self._credentials_file = kept, path
            return
        self._credentials_file = write_credentials(path, self.credentials)

    # -- registration ----------------------------------------------------------------------------
    def register_oauth2_client(self, client_id: str, key_id: str, public_key_pem: str,
                               username: str, account_id: str) -> None:
        """Accept private_key_jwt assertions signed by this key; opens a paper account."""
        self.engine.auth.register_oauth2_client(client_id, key_id, public_key_pem, username,
                                                account_id)
        self.engine.broker.ensure_account(account_id, username)

    def register_oauth1a_consumer(
        self,
        consumer_key: str,
        access_token: str,
        signature_public_key_pem: str,
        username: str,
        account_id: str,
        *,
        encryption_public_key_pem: str | None = None,
        access_token_secret: bytes | None = None,
        dh_prime_hex: str = RFC3526_PRIME_HEX,
        dh_generator: int = 2,
        realm: str = "limited_poa",
    ) -> str | None:
        """Register a consumer; returns base64(RSA-encrypt(secret)) when an encryption key is given.

        `access_token_secret` is the plaintext secret (random when omitted); its hex is the
        prepend the client recovers by decrypting the returned value with its private key.
        """
        plain = access_token_secret if access_token_secret is not None else secrets.token_bytes(24)
        self.engine.auth.register_oauth1a_consumer(
            consumer_key, access_token=access_token,
            signature_public_key_pem=signature_public_key_pem, prepend_hex=plain.hex(),
            username=username, account_id=account_id, dh_prime_hex=dh_prime_hex,
            dh_generator=dh_generator, realm=realm,
        )
        self.engine.broker.ensure_account(account_id, username)
        if encryption_public_key_pem is None:
            return None
        return encrypt_secret(encryption_public_key_pem, plain)

    # -- test helpers ----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Same as GET /__sim/stats."""
        return self.engine.stats_snapshot()

    def set_order_options(self, **options: Any) -> dict[str, Any]:
        """Same as POST /__sim/options: change order-realism options at run time."""
        return self.engine.broker.set_order_options(**options)

    def logical_requests(self) -> dict[str, Any]:
        """Same as GET /__sim/logical: accepted orders grouped per logical request."""
        return self.engine.broker.logical_requests()

    def orders(self) -> list[dict[str, Any]]:
        """Same as GET /__sim/orders."""
        self.engine.broker.evaluate()
        return self.engine.broker.admin_orders()

    def set_faults(self, plan: Mapping[str, Any]) -> None:
        """Same as POST /__sim/faults ({} clears)."""
        self.engine.faults.set(dict(plan))

    def reset(self) -> None:
        """Same as POST /__sim/reset."""
        self.engine.reset()

    def set_price(self, conid: int, price: float) -> None:
        """Pin a price; working orders are evaluated at once."""
        self.engine.set_price(conid, price)

    def register(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Same as POST /__sim/clients: register a user's own client or consumer (saved)."""
        return state.register(self.engine.services, dict(entry), self._state_dir)

    def set_paper_status(self, account_id: str, is_paper: bool) -> None:
        """Make /iserver/accounts report `isPaper` for an account regardless of its prefix."""
        broker = self.engine.broker
        with broker.lock:
            broker.paper_status[account_id] = is_paper
            if account_id in broker.accounts:
                broker.accounts[account_id].is_paper = is_paper

    def link_accounts(self, own_account: str, *linked: str) -> None:
        """Make the login whose own account is `own_account` also hold `linked` (in that order;
        instead of the derived `linked_accounts`); kept across reset()."""
        broker = self.engine.broker
        with broker.lock:
            broker.links[own_account] = list(linked)
            for account_id in linked:
                broker.ensure_account(account_id, broker.accounts[own_account].username
                                      if own_account in broker.accounts else "")

    def revoke_all(self) -> int:
        """Same as POST /__sim/revoke."""
        return self.engine.auth.revoke_all()
