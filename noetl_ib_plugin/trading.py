"""`TradingClient`: a typed, synchronous IBKR client for Python trading bots.

It is a thin front over the registered actions: every method runs the action through
`run_action_typed` (same token provider and cache, pacing, brokerage bootstrap, paper guard and
exactly-once order placement as a playbook step) and returns the action's output model from
`noetl_ib_plugin.actions.outputs` as the action built it (no JSON round trip). Errors are the
package's typed errors (`IBPluginError` and subclasses). One instance may be shared by threads.

    with TradingClient.from_env() as ib:          # OAUTH_* variables, see credentials/env_store.py
        ib.connect()
        cash = ib.get_account_balance().available_funds
        order = ib.place_order(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                               limit_price=150.0)
        ib.cancel_order(order.order_id)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from .actions.outputs import (
    AccountsOutput,
    AccountSummaryOutput,
    AuthStatusOutput,
    CancelOrderOutput,
    ContractSearchOutput,
    HistoryOutput,
    LedgerOutput,
    ModifyOrderOutput,
    OpenOrdersOutput,
    OrderGroupOutput,
    OrderStatusOutput,
    PlaceOrderOutput,
    PnlOutput,
    PositionsOutput,
    PreviewOrderOutput,
    SnapshotOutput,
    TradesOutput,
    WaitOrderOutput,
    WaitPriceOutput,
    load_output,
    output_json,
)
from .client.keepalive import TICKLE_INTERVAL, Keepalive, claim_session
from .credentials import CredentialRecord, parse_record
from .credentials.env_store import checked_record
from .errors import IBPluginError, InputError
from .runner import check_allow_live, default_host, get_client, resolve_credential, run_action_typed
from .streaming import DEFAULT_QUOTE_FIELDS, StreamSettings
from .trading_stream import TradingStream, open_stream
from .wiring.host import Host

__all__ = ["DEFAULT_KEEPALIVE_INTERVAL", "TradingClient"]

log = logging.getLogger(__name__)

#: Seconds between keepalive tickles (IBKR idles a brokerage session out after ~6 minutes).
DEFAULT_KEEPALIVE_INTERVAL = TICKLE_INTERVAL

_M = TypeVar("_M", bound=BaseModel)


class TradingClient:
    """IBKR for bots: construct once, call typed methods, `close()` (or use `with`).

    `credential` is a record name (looked up in the documented stores, `env` included), a raw
    record dict or a `CredentialRecord`; None builds the record from the OAUTH_* environment.
    `allow_live=True` is needed (with a record whose environment is live) to trade a live
    account. `keepalive=True` tickles the brokerage session every `keepalive_interval` seconds
    from a background thread. `host` (default: the process's, built from the environment) owns
    the clients, caches and pacers; bots that embed several independent setups pass their own.
    """

    def __init__(
        self,
        credential: str | Mapping[str, Any] | CredentialRecord | None = None,
        *,
        credentials_file: str | os.PathLike[str] | None = None,
        allow_live: bool = False,
        keepalive: bool = False,
        keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        environ: Mapping[str, str] | None = None,
        host: Host | None = None,
    ) -> None:
        check_allow_live(allow_live)
        self.host = host or default_host()
        if credential is None:
            types = self.host.registry.credential_types
            env = self.host.settings.environ if environ is None else environ
            credential = parse_record(checked_record(env, types), types)
        self.record = resolve_credential(credential, credentials_file, host=self.host)
        self.allow_live = allow_live
        self._lock = threading.Lock()
        self._closed = False
        self._keepalive: Keepalive | None = None
        if keepalive:
            if not keepalive_interval > 0:
                raise InputError("must be a positive number of seconds",
                                 field="keepalive_interval", fix="use keepalive_interval=60.")
            self._keepalive = Keepalive(self, keepalive_interval, stop_timeout=5.0).start()
            # Streams of this client see it and start no second keepalive for the session.
            claim_session(get_client(self.record, host=self.host), self._keepalive)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> TradingClient:
        """A client for the OAuth 1.0a record in OAUTH_* variables (errors name the variable)."""
        return cls(None, environ=environ, **options)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the keepalive; later calls raise. Pooled connections stay with the host's
        per-credential client (shared with `run_action` on the same host; released at exit)."""
        with self._lock:
            self._closed = True
            keepalive, self._keepalive = self._keepalive, None
        if keepalive is not None:
            keepalive.stop()

    def __enter__(self) -> TradingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"TradingClient(credential={self.record.name!r}, type={self.record.type!r}, "
                f"environment={self.record.data.environment!r}, closed={self._closed})")

    @property
    def keepalive_running(self) -> bool:
        """Whether the keepalive thread is running."""
        keepalive = self._keepalive
        return keepalive is not None and keepalive.running

    def _run(self, action: str, model: type[_M], args: Mapping[str, Any]) -> _M:
        """Run one registered action; None arguments mean "the action's default"."""
        if self._closed:
            raise InputError("this TradingClient is closed", field="client",
                             fix="create a new TradingClient (or keep the `with` block open).")
        given = {k: v for k, v in args.items() if v is not None}
        result = run_action_typed(action, self.record, allow_live=self.allow_live,
                                  host=self.host, **given)
        if isinstance(result, model):
            return result
        # A dict the model refused (kept unvalidated), or a plugin's own model for this name.
        return load_output(model, output_json(result), action)

    # -- session -----------------------------------------------------------------------------

    def connect(self) -> AuthStatusOutput:
        """Obtain a token if needed, open the brokerage session, and report its status."""
        if self._closed:
            raise InputError("this TradingClient is closed", field="client",
                             fix="create a new TradingClient.")
        get_client(self.record, host=self.host).brokerage()
        return self.auth_status()

    def auth_status(self) -> AuthStatusOutput:
        """`auth_status` action: never fetches or refreshes a token."""
        return self._run("auth_status", AuthStatusOutput, {})

    def is_connected(self) -> bool:
        """True when IBKR reports the brokerage session authenticated and connected."""
        try:
            status = self.auth_status()
        except IBPluginError as exc:
            log.info("is_connected: %s", exc.message)
            return False
        return status.authenticated and status.connected

    def tickle(self) -> Any:
        """`POST /tickle` once (what the keepalive thread sends)."""
        return get_client(self.record, host=self.host).tickle()

    def stream(self, *, quotes: Iterable[str | int] = (), topics: Iterable[str] = (),
               fields: Iterable[str] = DEFAULT_QUOTE_FIELDS,
               settings: StreamSettings | None = None,
               ready_timeout: float = 15.0, dispatch: str = "thread") -> TradingStream:
        """IBKR's WebSocket (`/v1/api/ws`) on this client's token and brokerage session: a
        started `TradingStream` (a context manager) with `quotes` (symbols or conids) and
        `topics` (orders, trades, pnl; summary, ledger of the client's account) subscribed,
        authenticated within `ready_timeout` s. `dispatch`: where `on` callbacks run, "thread"
        (default: the socket's reader thread while each returns within the settings'
        `callback_budget`, 0.1 s, then a thread of their own) or "inline" (always the reader
        thread: a callback must return quickly; see TradingStream).

        Raises SessionTakenOver, AuthError or TransientError when it cannot stream.
        """
        if self._closed:
            raise InputError("this TradingClient is closed", field="client",
                             fix="create a new TradingClient.")
        client = get_client(self.record, host=self.host)
        return open_stream(client, self.host.stream(client, settings), quotes=quotes,
                           fields=fields, topics=topics, ready_timeout=ready_timeout,
                           dispatch=dispatch)

    # -- trading -----------------------------------------------------------------------------

    def place_order(
        self,
        *,
        side: Literal["BUY", "SELL"] | str,
        quantity: float | None = None,
        order_type: str,
        symbol: str | None = None,
        conid: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str | None = None,
        client_order_id: str | None = None,
        confirm: list[str] | None = None,
        decline: list[str] | None = None,
        outside_rth: bool | None = None,
        exchange: str | None = None,
        currency: str | None = None,
        sec_type: str | None = None,
        account_id: str | None = None,
        month: str | None = None,
        expiry: str | None = None,
        strike: float | None = None,
        right: str | None = None,
        multiplier: float | None = None,
        trailing_amount: float | None = None,
        trailing_type: Literal["amt", "%"] | str | None = None,
        limit_offset: float | None = None,
        cash_quantity: float | None = None,
    ) -> PlaceOrderOutput:
        """`place_order`: exactly once per `client_order_id` (generated when absent).

        `quantity` in shares, or `cash_quantity` in the contract's currency (MKT/LMT stocks);
        TRAIL/TRAILLMT take `trailing_amount` + `trailing_type` ("amt" or "%"), TRAILLMT also
        `limit_offset`.

        Raises OrderRejected (IBKR refused, or a question the confirm policy declined),
        OrderUnconfirmed (an OutcomeUnknownError, neither a BrokerError nor a TransientError)
        when IBKR may hold the order and looking it up could not tell,
        LiveTradingRefused on a live account without both opt-ins, and ContractMismatch when
        the contract found is not the one named (`sec_type` defaults to STK, also for a conid).
        An option is named by `sec_type="OPT"`, `month` ("JAN30") or `expiry` ("20300118"),
        `strike` and `right` ("C"/"P"); a future by `sec_type="FUT"` and `month`; `multiplier`
        narrows either (InputError / AmbiguousContract name the part that does not fit).
        """
        return self._run("place_order", PlaceOrderOutput, {
            "side": side, "quantity": quantity, "order_type": order_type, "symbol": symbol,
            "conid": conid, "limit_price": limit_price, "stop_price": stop_price, "tif": tif,
            "client_order_id": client_order_id, "confirm": confirm, "decline": decline,
            "outside_rth": outside_rth, "exchange": exchange, "currency": currency,
            "sec_type": sec_type, "account_id": account_id,
            "month": month, "expiry": expiry, "strike": strike, "right": right,
            "multiplier": multiplier,
            "trailing_amount": trailing_amount, "trailing_type": trailing_type,
            "limit_offset": limit_offset, "cash_quantity": cash_quantity,
        })

    def modify_order(
        self,
        order_id: str | int,
        *,
        quantity: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str | None = None,
        trailing_amount: float | None = None,
        trailing_type: Literal["amt", "%"] | str | None = None,
        limit_offset: float | None = None,
        confirm: list[str] | None = None,
        decline: list[str] | None = None,
        account_id: str | None = None,
    ) -> ModifyOrderOutput:
        """`modify_order`: give a working order these target values (never deltas: calling it
        again with the same values changes nothing); returns the order as IBKR holds it after.

        Raises OrderNotWorking (filled, cancelled, inactive: nothing modified), OrderNotFound,
        InputError (a field the order type does not take, nothing sent), OrderRejected, and
        ModifyUnconfirmed (an OutcomeUnknownError) when a lost answer could not be resolved.
        """
        return self._run("modify_order", ModifyOrderOutput, {
            "order_id": order_id, "quantity": quantity, "limit_price": limit_price,
            "stop_price": stop_price, "tif": tif, "trailing_amount": trailing_amount,
            "trailing_type": trailing_type, "limit_offset": limit_offset, "confirm": confirm,
            "decline": decline, "account_id": account_id,
        })

    def place_bracket(
        self,
        *,
        side: Literal["BUY", "SELL"] | str,
        quantity: float,
        order_type: str,
        take_profit_price: float | None = None,
        stop_loss_price: float | None = None,
        symbol: str | None = None,
        conid: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str | None = None,
        exit_tif: str | None = None,
        client_order_id: str | None = None,
        confirm: list[str] | None = None,
        decline: list[str] | None = None,
        outside_rth: bool | None = None,
        exchange: str | None = None,
        currency: str | None = None,
        sec_type: str | None = None,
        account_id: str | None = None,
    ) -> OrderGroupOutput:
        """`place_bracket`: the entry order plus a take-profit LMT and/or stop-loss STP child
        (IBKR's `parentId`), in one request, exactly once per `client_order_id`.

        Returns OrderGroupOutput (`legs`, parent first) when IBKR holds every leg; raises
        InputError (prices on the wrong side of the entry, before any request), OrderRejected
        (nothing held), OrderGroupIncomplete (IBKR holds some legs: `legs` says which) and
        OrderGroupUnconfirmed (a leg may be held: look it up by its client_order_id).
        """
        return self._run("place_bracket", OrderGroupOutput, {
            "side": side, "quantity": quantity, "order_type": order_type,
            "take_profit_price": take_profit_price, "stop_loss_price": stop_loss_price,
            "symbol": symbol, "conid": conid, "limit_price": limit_price,
            "stop_price": stop_price, "tif": tif, "exit_tif": exit_tif,
            "client_order_id": client_order_id, "confirm": confirm, "decline": decline,
            "outside_rth": outside_rth, "exchange": exchange, "currency": currency,
            "sec_type": sec_type, "account_id": account_id,
        })

    def place_oca(self, orders: list[Mapping[str, Any]], *, client_order_id: str | None = None,
                  confirm: list[str] | None = None, decline: list[str] | None = None,
                  account_id: str | None = None) -> OrderGroupOutput:
        """`place_oca`: `orders` (each as `place_order` takes it) in one OCA group (IBKR's
        `isSingleGroup`): the first to fill cancels the others. Returns and raises as
        `place_bracket`."""
        return self._run("place_oca", OrderGroupOutput, {
            "orders": [dict(o) for o in orders], "client_order_id": client_order_id,
            "confirm": confirm, "decline": decline, "account_id": account_id,
        })

    def cancel_order(self, order_id: str | int, account_id: str | None = None) -> CancelOrderOutput:
        """`cancel_order`: IBKR acknowledges the request; `get_order_status` shows the result."""
        return self._run("cancel_order", CancelOrderOutput,
                         {"order_id": order_id, "account_id": account_id})

    def get_open_orders(self, filters: list[str] | None = None,
                        include_inactive: bool | None = None) -> OpenOrdersOutput:
        """`get_open_orders`: the day's orders."""
        return self._run("get_open_orders", OpenOrdersOutput,
                         {"filters": filters, "include_inactive": include_inactive})

    def get_order_status(self, order_id: str | int) -> OrderStatusOutput:
        """`order_status`: one order by IBKR order id."""
        return self._run("order_status", OrderStatusOutput, {"order_id": order_id})

    def get_trades(self, *, days: int | None = None, order_id: str | int | None = None,
                   client_order_id: str | None = None) -> TradesOutput:
        """`trades`: recent executions, optionally of one order."""
        return self._run("trades", TradesOutput, {"days": days, "order_id": order_id,
                                                  "client_order_id": client_order_id})

    def wait_order(self, order_id: str | int | None = None, *,
                   client_order_id: str | None = None,
                   until: Literal["filled", "done", "working"] = "filled",
                   timeout: float = 60.0) -> WaitOrderOutput:
        """`wait_order`: wait on IBKR's order stream until the order is filled, done or
        working, confirmed by one REST read; `timed_out` says when the timeout came first."""
        return self._run("wait_order", WaitOrderOutput, {
            "order_id": order_id, "client_order_id": client_order_id, "until": until,
            "timeout": timeout})

    def wait_price(
        self,
        condition: str,
        *,
        symbol: str | None = None,
        conid: int | None = None,
        timeout: float = 60.0,
        exchange: str | None = None,
        currency: str | None = None,
        sec_type: str | None = None,
        month: str | None = None,
        expiry: str | None = None,
        strike: float | None = None,
        right: str | None = None,
        multiplier: float | None = None,
    ) -> WaitPriceOutput:
        """`wait_price`: stream quotes until `condition` (e.g. "last >= 190") holds; the
        contract is named as for place_order (an option or future also by its parts) and the
        result names the conid waited on."""
        return self._run("wait_price", WaitPriceOutput, {
            "condition": condition, "symbol": symbol, "conid": conid, "timeout": timeout,
            "exchange": exchange, "currency": currency,
            "sec_type": sec_type, "month": month, "expiry": expiry, "strike": strike,
            "right": right, "multiplier": multiplier})

    def preview_order(
        self,
        *,
        side: Literal["BUY", "SELL"] | str,
        quantity: float,
        order_type: str,
        symbol: str | None = None,
        conid: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str | None = None,
        outside_rth: bool | None = None,
        exchange: str | None = None,
        currency: str | None = None,
        sec_type: str | None = None,
        account_id: str | None = None,
    ) -> PreviewOrderOutput:
        """`preview_order` (IBKR's whatif): commission, margin and equity change and warnings
        of the order `place_order` would place with the same arguments; places nothing.

        Raises what place_order raises before sending (InputError, ContractMismatch,
        LiveTradingRefused...) and OrderRejected when IBKR says the order would be rejected.
        """
        return self._run("preview_order", PreviewOrderOutput, {
            "side": side, "quantity": quantity, "order_type": order_type, "symbol": symbol,
            "conid": conid, "limit_price": limit_price, "stop_price": stop_price, "tif": tif,
            "outside_rth": outside_rth, "exchange": exchange, "currency": currency,
            "sec_type": sec_type, "account_id": account_id,
        })

    def get_pnl(self, account_id: str | None = None) -> PnlOutput:
        """`get_pnl`: the account's daily and unrealized P&L (IBKR's partitioned P&L)."""
        return self._run("get_pnl", PnlOutput, {"account_id": account_id})

    # -- account -----------------------------------------------------------------------------

    def get_positions(self, account_id: str | None = None) -> PositionsOutput:
        """`get_positions`: every position of the account."""
        return self._run("get_positions", PositionsOutput, {"account_id": account_id})

    def get_account_balance(self, account_id: str | None = None) -> AccountSummaryOutput:
        """`account_summary`: net liquidation, available funds, buying power, cash."""
        return self._run("account_summary", AccountSummaryOutput, {"account_id": account_id})

    def get_ledger(self, account_id: str | None = None) -> LedgerOutput:
        """`ledger`: cash balances per currency."""
        return self._run("ledger", LedgerOutput, {"account_id": account_id})

    def get_accounts(self) -> AccountsOutput:
        """`accounts`: what the credential can trade."""
        return self._run("accounts", AccountsOutput, {})

    # -- market data -------------------------------------------------------------------------

    def get_market_data(
        self,
        symbols: list[str] | str | None = None,
        *,
        conids: list[int] | None = None,
        fields: list[str] | None = None,
        exchange: str | None = None,
        currency: str | None = None,
        max_wait: float | None = None,
        sec_type: str | None = None,
        month: str | None = None,
        expiry: str | None = None,
        strike: float | None = None,
        right: str | None = None,
        multiplier: float | None = None,
    ) -> SnapshotOutput:
        """`snapshot`: quotes (last, bid, ask, sizes, volume by default); with `sec_type` (and
        an option's or future's parts, as for place_order) every symbol and conid must be it."""
        if isinstance(symbols, str):
            symbols = [symbols]
        return self._run("snapshot", SnapshotOutput, {
            "symbols": symbols, "conids": conids, "fields": fields, "exchange": exchange,
            "currency": currency, "max_wait": max_wait,
            "sec_type": sec_type, "month": month, "expiry": expiry, "strike": strike,
            "right": right, "multiplier": multiplier,
        })

    def get_history(
        self,
        symbol: str | None = None,
        *,
        conid: int | None = None,
        period: str | None = None,
        bar: str | None = None,
        outside_rth: bool | None = None,
        exchange: str | None = None,
        currency: str | None = None,
        sec_type: str | None = None,
        month: str | None = None,
        expiry: str | None = None,
        strike: float | None = None,
        right: str | None = None,
        multiplier: float | None = None,
    ) -> HistoryOutput:
        """`history`: OHLCV bars, times in UTC; an option or future by its parts as for
        place_order."""
        return self._run("history", HistoryOutput, {
            "symbol": symbol, "conid": conid, "period": period, "bar": bar,
            "outside_rth": outside_rth, "exchange": exchange, "currency": currency,
            "sec_type": sec_type, "month": month, "expiry": expiry, "strike": strike,
            "right": right, "multiplier": multiplier,
        })

    # -- contracts ---------------------------------------------------------------------------

    def search_contracts(self, symbol: str, *, sec_type: str | None = None,
                         month: str | None = None,
                         exchange: str | None = None) -> ContractSearchOutput:
        """`search_contracts`: the symbol's listings and derivative sections (types, months,
        exchanges); `sec_type="OPT", month="JAN30"` adds that month's strikes, `sec_type="FUT"`
        the listed futures."""
        return self._run("search_contracts", ContractSearchOutput, {
            "symbol": symbol, "sec_type": sec_type, "month": month, "exchange": exchange})
