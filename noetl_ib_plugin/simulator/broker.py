"""Paper-broker state: accounts, positions, brokerage sessions, order book and questions."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from .auth import Principal
from .common import ApiError
from .logins import AccountRules, linked_ids
from .market import Contract, Market
from .order_groups import LEG_REFUSED_TEXT, on_fill, parse_group, settle_groups, start
from .orders import (
    WORKING,
    Fill,
    Order,
    OrderRejectedError,
    fill_price,
    parse_ticket,
    render_live,
    render_status,
    render_trade,
)
from .questions import OPTIONAL_WARNINGS, SUPPRESSIBLE, questions_for
from .stats import Stats

__all__ = [
    "ACCOUNTS_FIRST",
    "INIT_SESSION_FIRST",
    "NO_BRIDGE",
    "Account",
    "Broker",
    "BrokerSession",
    "Position",
    "SessionRules",
]

Clock = Callable[[], float]
NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}
#: What IBKR's gateway answers for a session that was never initialised (ibeam#140).
INIT_SESSION_FIRST = {"error": "Init session first", "statusCode": 400}
#: IBKR's 500 for iserver calls sent before `GET /iserver/accounts` in a fresh session.
ACCOUNTS_FIRST = {"error": "Please query /accounts first", "statusCode": 500}
BAD_ACCOUNT = {"error": "accountId is not valid", "statusCode": 400}
FIRST_ORDER_ID = 1370093239
STARTING_POSITIONS = ((265598, 100.0, 150.0), (272093, 50.0, 300.0), (8314, 20.0, 140.0))


@dataclass
class Position:
    """Holding in one contract; avg cost and realized P&L follow fills."""

    contract: Contract
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0


@dataclass
class Account:
    """One paper account with USD cash (FX is ignored) and positions in insertion order."""

    account_id: str
    username: str
    cash: float
    positions: dict[int, Position] = field(default_factory=dict)
    coids: set[str] = field(default_factory=set)
    #: What /iserver/accounts reports as isPaper; None: decided by the DU prefix (the default).
    is_paper: bool | None = None


@dataclass
class SessionRules:
    """How stubborn brokerage sessions are; the defaults are IBKR's, tests may relax them."""

    #: One brokerage session per username: `compete=true` kicks the previous holder.
    single_session: bool = True
    #: Seconds after `ssodh/init` during which `/iserver/accounts` answers `{}`.
    bridge_warmup: float = 1.0
    #: iserver calls before a successful `/iserver/accounts` answer 500 ACCOUNTS_FIRST.
    accounts_first: bool = True
    #: Answer for a never-initialised session: "no bridge" or "init session first".
    uninitialised: str = "no bridge"


@dataclass
class BrokerSession:
    """The brokerage ("bridge") session of one bearer or LST, with its pre-flight memory."""

    token_id: str
    username: str = ""
    bridge: bool = False
    last_seen: float = 0.0
    opened_at: float = 0.0
    snapshot_conids: set[int] = field(default_factory=set)
    orders_primed: bool = False
    last_orders_empty: bool = False
    #: When `/iserver/accounts` starts answering (the bridge warm-up ends).
    ready_at: float = 0.0
    accounts_queried: bool = False
    initialised: bool = False
    kicked: bool = False
    #: Another session of the same username holds the bridge (reported by auth/status, tickle).
    competing: bool = False
    #: IBKR's `selectedAccount`: live orders and trades answer for it unless `accountId` is
    #: given; `POST /iserver/account` switches it; a new brokerage session selects the login's own.
    selected: str = ""

    def close(self) -> None:
        """Drop the bridge and everything the gateway caches per session."""
        self.bridge = False
        self.accounts_queried = False
        self.snapshot_conids.clear()
        self.orders_primed = False
        self.last_orders_empty = False


@dataclass
class PendingReply:
    """A question waiting for POST /iserver/reply/{id}."""

    reply_id: str
    order: Order
    remaining: list[tuple[str, str]]
    created: float
    #: What the last confirmation does instead of accepting `order` (a modification).
    apply: Callable[[Collection[str]], Any] | None = None
    #: Every order of a bracket or OCA request (`order` is its first); empty for one order.
    group: list[Order] = field(default_factory=list)


def _may_change(order: Order) -> bool:
    """Working or pending cancel: `evaluate` may still move it."""
    return order.status in WORKING or order.status == "PendingCancel"


class Broker:
    """All mutable trading state behind one re-entrant lock."""

    def __init__(self, market: Market, clock: Clock, stats: Stats, seed: int) -> None:
        self.market = market
        self.clock = clock
        self.stats = stats
        self.seed = seed
        self.lock = threading.RLock()
        self.session_idle_timeout = 360.0
        self.reply_ttl = 120.0
        self.cancel_delay = 0.0
        self.starting_cash = 1_000_000.0
        # Order realism (README "Orders"); each can be relaxed for unit tests.
        self.enforce_coid_unique = True
        self.live_orders_scope = "session"
        self.order_warnings: frozenset[str] = frozenset()
        self.combine_questions = False
        self.pending_submit_s = 0.0
        self.partial_fill_lot = 0.0
        #: whatif answers the questions placement would ask (registered: a confirmed reply
        #: submits the order) instead of listing them under `warn` (simulator/whatif.py).
        self.whatif_questions = False
        self.bulk: dict[str, list[Contract]] = {}
        self._owners: dict[str, str] = {}
        self.rules = SessionRules()
        #: isPaper overrides per account id (Simulator.set_paper_status), kept across resets.
        self.paper_status: dict[str, bool] = {}
        #: What real logins hold and do (logins.py); options of `set_order_options`.
        self.account_rules = AccountRules()
        #: Explicit linked accounts per login's own account (Simulator.link_accounts).
        self.links: dict[str, list[str]] = {}
        self.reset()

    # -- lifecycle --------------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh accounts, no orders, no sessions; registered owners are kept."""
        with self.lock:
            self.rng = random.Random(self.seed)
            self.accounts: dict[str, Account] = {}
            self.sessions: dict[str, BrokerSession] = {}
            #: username -> token_id of the session holding that user's bridge.
            self.holders: dict[str, str] = {}
            self.orders: dict[int, Order] = {}
            self._open: dict[int, Order] = {}
            self._open_of: dict[int, Order] | None = None
            self.replies: dict[str, PendingReply] = {}
            self.suppressed: dict[str, set[str]] = {}
            #: account id -> the position rows IBKR's cache answers until invalidated.
            self.position_cache: dict[str, list[dict[str, Any]]] = {}
            #: username -> history requests in flight.
            self.history_in_flight: dict[str, int] = {}
            self.next_order_id = FIRST_ORDER_ID
            for account_id, username in self._owners.items():
                self._create_account(account_id, username)

    def ensure_account(self, account_id: str, username: str) -> None:
        """Create the paper account for a principal the first time it is registered."""
        with self.lock:
            self._owners.setdefault(account_id, username)
            if account_id not in self.accounts:
                self._create_account(account_id, username)

    def _create_account(self, account_id: str, username: str) -> None:
        """Seed cash and a few starting positions (plus the bulk book, if configured)."""
        account = Account(account_id, username, self.starting_cash,
                          is_paper=self.paper_status.get(account_id))
        for conid, qty, cost in STARTING_POSITIONS:
            account.positions[conid] = Position(self.market.contracts[conid], qty, cost)
        for contract in self.bulk.get(account_id, []):
            account.positions[contract.conid] = Position(contract, 1.0, contract.base_price)
        self.accounts[account_id] = account

    # -- sessions ---------------------------------------------------------------------------
    def session(self, principal: Principal) -> BrokerSession:
        """The caller's session, idled out when no request came for session_idle_timeout s."""
        now = self.clock()
        with self.lock:
            session = self.sessions.get(principal.token_id)
            if session is None:
                session = BrokerSession(principal.token_id, principal.username)
                self.sessions[principal.token_id] = session
            elif session.bridge and now - session.last_seen > self.session_idle_timeout:
                session.close()
            session.last_seen = now
            session.competing = self._rival(session, now) is not None
            return session

    def _rival(self, session: BrokerSession, now: float) -> BrokerSession | None:
        """Another live session holding this username's bridge (lock held)."""
        if not self.rules.single_session:
            return None
        holder_id = self.holders.get(session.username)
        holder = self.sessions.get(holder_id) if holder_id else None
        if holder is None or holder is session or not holder.bridge:
            return None
        if now - holder.last_seen > self.session_idle_timeout:
            return None
        return holder

    def open_bridge(self, principal: Principal, compete: bool) -> BrokerSession:
        """`ssodh/init`: open this token's bridge; `compete` kicks another live session of the user.

        Without `compete`, a live rival leaves the bridge closed and the answer says `competing`.
        """
        now = self.clock()
        with self.lock:
            session = self.session(principal)
            rival = self._rival(session, now)
            if rival is not None:
                if not compete:
                    session.competing = True
                    return session
                rival.close()
                rival.kicked = True
                self.stats.incr("sessions_kicked")
            # Re-initialising a live bridge keeps it warm and its accounts query remembered.
            warm = session.bridge and session.accounts_queried
            session.close()
            session.bridge = session.initialised = True
            session.accounts_queried = warm
            session.kicked = session.competing = False
            session.opened_at = now
            session.selected = principal.account_id
            session.ready_at = now if warm else now + self.rules.bridge_warmup
            self.holders[principal.username] = principal.token_id
            return session

    def require_bridge(self, principal: Principal, *, accounts: bool = False) -> BrokerSession:
        """Refuse /iserver/* calls until ssodh/init opened the session and accounts were queried."""
        session = self.session(principal)
        if not session.bridge:
            fresh = not session.initialised and self.rules.uninitialised != "no bridge"
            raise ApiError(400, dict(INIT_SESSION_FIRST if fresh else NO_BRIDGE))
        if self.rules.accounts_first and not accounts and not session.accounts_queried:
            raise ApiError(500, dict(ACCOUNTS_FIRST))
        return session

    def accounts_ready(self, session: BrokerSession) -> bool:
        """Whether the bridge finished warming up; the first ready answer unlocks iserver calls."""
        with self.lock:
            if self.clock() < session.ready_at:
                return False
            session.accounts_queried = True
            return True

    def login_accounts(self, principal: Principal) -> list[str]:
        """The accounts this login holds: its own first, then the linked ones (created here)."""
        own = principal.account_id
        with self.lock:
            linked = self.links.get(own)
            if linked is None:
                linked = linked_ids(own, self.account_rules.linked_accounts)
            for account_id in linked:
                if account_id not in self.accounts:
                    self._create_account(account_id, principal.username)
            return [own, *(a for a in linked if a != own)]

    def _held(self, principal: Principal, account_id: str) -> Account | None:
        """The account when this login holds it, else None."""
        if account_id not in self.login_accounts(principal):
            return None
        with self.lock:
            return self.accounts.get(account_id)

    def account_for(self, principal: Principal, account_id: str) -> Account:
        """An account of the principal's login; any other id is refused like IBKR (500)."""
        account = self._held(principal, account_id)
        if account is None:
            raise ApiError(500, {"error": f"Invalid account: {account_id}", "statusCode": 500})
        return account

    def select_account(self, principal: Principal, session: BrokerSession, body: Any) -> Any:
        """POST /iserver/account {"acctId"}: switch the selected account of this session."""
        account_id = str(body.get("acctId") or "") if isinstance(body, dict) else ""
        if self._held(principal, account_id) is None:
            raise ApiError(400, dict(BAD_ACCOUNT))
        with self.lock:
            session.selected = account_id
        return {"set": True, "acctId": account_id}

    def scoped_account(self, principal: Principal, session: BrokerSession,
                       given: str | None) -> str:
        """The account a live-orders or trades call answers for: `accountId`, else the selected."""
        if given:
            if self._held(principal, given) is None:
                raise ApiError(400, dict(BAD_ACCOUNT))
            return given
        return session.selected or principal.account_id

    # -- orders -------------------------------------------------------------------------------
    def order_options(self) -> dict[str, Any]:
        """The order-realism options (GET /__sim/options)."""
        with self.lock:
            return {**self.account_rules.describe(),
                    "enforce_coid_unique": self.enforce_coid_unique,
                    "live_orders_scope": self.live_orders_scope,
                    "order_warnings": sorted(self.order_warnings),
                    "combine_questions": self.combine_questions,
                    "pending_submit_s": self.pending_submit_s,
                    "partial_fill_lot": self.partial_fill_lot,
                    "whatif_questions": self.whatif_questions}

    def set_order_options(self, **options: Any) -> dict[str, Any]:
        """Change order-realism options (POST /__sim/options); unknown names are refused."""
        unknown = set(options) - set(self.order_options())
        if unknown:
            raise ValueError(f"unknown order options: {sorted(unknown)}")
        with self.lock:
            self.account_rules.update(options)
        scope = options.get("live_orders_scope", self.live_orders_scope)
        if scope not in ("session", "day"):
            raise ValueError("live_orders_scope must be 'session' or 'day'")
        warnings = {str(w).lower() for w in options.get("order_warnings", self.order_warnings)}
        if warnings - OPTIONAL_WARNINGS:
            raise ValueError(f"order_warnings must be among {sorted(OPTIONAL_WARNINGS)}")
        numbers = {k: float(options.get(k, getattr(self, k)))
                   for k in ("pending_submit_s", "partial_fill_lot")}
        if min(numbers.values()) < 0:
            raise ValueError("pending_submit_s and partial_fill_lot must be >= 0")
        with self.lock:
            self.enforce_coid_unique = bool(options.get("enforce_coid_unique",
                                                        self.enforce_coid_unique))
            self.live_orders_scope = scope
            self.order_warnings = frozenset(warnings)
            self.combine_questions = bool(options.get("combine_questions",
                                                      self.combine_questions))
            self.pending_submit_s = numbers["pending_submit_s"]
            self.partial_fill_lot = numbers["partial_fill_lot"]
            self.whatif_questions = bool(options.get("whatif_questions", self.whatif_questions))
        return self.order_options()

    def order_account(self, principal: Principal, account_id: str) -> Account:
        """An account of the principal's login on order endpoints; any other id is IBKR's 400."""
        account = self._held(principal, account_id)
        if account is None:
            raise ApiError(400, dict(BAD_ACCOUNT))
        return account

    def _open_orders(self) -> dict[int, Order]:
        """Orders that can still change (working or pending cancel), in order-id order.

        Kept beside `orders` so `evaluate` (run on every request) costs O(open orders), not
        O(every order ever placed); rebuilt whenever `orders` is replaced (reset, state load).
        """
        if self._open_of is not self.orders:
            self._open = {oid: o for oid, o in self.orders.items() if _may_change(o)}
            self._open_of = self.orders
        return self._open

    def evaluate(self) -> None:
        """Advance every open order: submit, go inactive, fill what the price allows, finish
        cancels; orders that reached a final status leave the open set."""
        now = self.clock()
        with self.lock:
            open_orders = self._open_orders()
            for order in list(open_orders.values()):
                if order.status == "PendingCancel" and now >= order.cancel_at:
                    order.set_status("Cancelled", now)
                elif order.status == "PendingCancel" and not order.contract.halted:
                    self._try_fill(order, now)  # the cancel is not confirmed: it can still fill
                elif order.status == "PendingSubmit" and now >= order.submit_at:
                    self._activate(order, now)
                elif order.inactive_later and order.status in WORKING and not order.fills:
                    order.set_status("Inactive", now)
                elif order.status in WORKING and order.status != "PendingSubmit" and \
                        not order.contract.halted:
                    self._try_fill(order, now)
                if not _may_change(order):
                    del open_orders[order.order_id]
            settle_groups(self, now)

    def _activate(self, order: Order, now: float) -> None:
        """Leave PendingSubmit: work (PreSubmitted for stops), trade at once if marketable."""
        order.set_status("PreSubmitted" if order.stop_price is not None else "Submitted", now)
        if not order.contract.halted:
            self._try_fill(order, now)
        if order.status in WORKING and order.tif in ("IOC", "FOK"):
            order.set_status("Cancelled", now)
        elif order.contract.halted:
            order.set_status("PreSubmitted", now)

    def _try_fill(self, order: Order, now: float) -> None:
        """Execute the remaining quantity (one lot of `partial_fill_lot` when set) if it trades."""
        if order.held:
            return  # a bracket child waits for its parent's fill
        price = fill_price(order, self.market.price(order.contract.conid))
        if price is None:
            if order.triggered and order.status == "PreSubmitted":
                order.set_status("Submitted", now)
            return
        quantity = order.quantity - order.filled
        if self.partial_fill_lot > 0 and order.tif not in ("IOC", "FOK"):
            quantity = min(quantity, self.partial_fill_lot)
        order.fills.append(Fill(quantity, price, now))
        done = order.filled >= order.quantity
        order.set_status("Filled" if done else "Submitted", now)
        self.stats.incr("orders_filled" if done else "orders_partially_filled")
        self._book_fill(self.accounts[order.account], order.contract, order.side, quantity, price)
        on_fill(self, order, quantity, now)

    def _book_fill(self, account: Account, contract: Contract, side: str, qty: float,
                   price: float) -> None:
        """Update position, average cost (per unit), realized P&L and cash for one execution;
        money moves by price x quantity x the contract's multiplier (100 for an equity option)."""
        signed = qty if side == "BUY" else -qty
        pos = account.positions.setdefault(contract.conid, Position(contract))
        if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
            total = abs(pos.quantity) + qty
            pos.avg_cost = (abs(pos.quantity) * pos.avg_cost + qty * price) / total
            pos.quantity += signed
        else:
            closing = min(qty, abs(pos.quantity))
            direction = 1.0 if pos.quantity > 0 else -1.0
            pos.realized += closing * (price - pos.avg_cost) * direction * contract.multiplier
            pos.quantity += signed
            if pos.quantity == 0:
                pos.avg_cost = 0.0
            elif (pos.quantity > 0) != (direction > 0):
                pos.avg_cost = price
        account.cash -= signed * price * contract.multiplier

    def _new_reply(self, order: Order, remaining: list[tuple[str, str]],
                   apply: Callable[[Collection[str]], Any] | None = None,
                   group: list[Order] | None = None) -> list[dict[str, Any]]:
        """Register the next question of a chain and render it like IBKR."""
        reply_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.replies[reply_id] = PendingReply(reply_id, order, remaining[1:], self.clock(), apply,
                                              group or [])
        self.stats.incr("questions_asked")
        message_id, text = remaining[0]
        return [{"id": reply_id, "message": [text], "isSuppressed": False,
                 "messageIds": [message_id]}]

    def _ask(self, order: Order, questions: list[tuple[str, str]],
             apply: Callable[[Collection[str]], Any] | None = None,
             group: list[Order] | None = None) -> list[dict[str, Any]]:
        """One question per message (a chain), or one question carrying them all."""
        if not self.combine_questions or len(questions) == 1:
            return self._new_reply(order, questions, apply, group)
        reply_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.replies[reply_id] = PendingReply(reply_id, order, [], self.clock(), apply, group or [])
        self.stats.incr("questions_asked")
        return [{"id": reply_id, "message": [t for _, t in questions], "isSuppressed": False,
                 "messageIds": [m for m, _ in questions]}]

    def _check_coid(self, account: Account, order: Order) -> None:
        """cOIDs are unique per account; a reuse is an HTTP 200 rejection (unless relaxed)."""
        if not self.enforce_coid_unique:
            return
        if order.coid is not None and order.coid in account.coids:
            self.stats.incr("orders_rejected_duplicate_coid")
            raise OrderRejectedError(f"Order couldn't be submitted: Local order ID={order.coid} is "
                              "already registered.")

    def place(self, principal: Principal, account_id: str, body: Any,
              flags: Collection[str] = (), reason: str = "") -> Any:
        """POST /iserver/account/{acct}/orders: a question, the placed list or {"error"}.

        `flags` are the order fault kinds drawn for this request (inactive, inactive_later,
        session_change); `reason` is the text an Inactive order carries.
        """
        account = self.order_account(principal, account_id)
        tickets = body.get("orders") if isinstance(body, dict) else body
        if isinstance(tickets, list) and len(tickets) > 1:
            return self._place_group(principal, account, tickets, flags, reason)
        with self.lock:
            try:
                if not isinstance(tickets, list) or len(tickets) != 1:
                    raise OrderRejectedError("Exactly one order per request is supported")
                order = parse_ticket(tickets[0], account_id, self.market.contracts, self.clock())
                order.prepare(self.market.price(order.contract.conid))
                self._check_coid(account, order)
            except OrderRejectedError as exc:
                self.stats.incr("orders_rejected")
                return {"error": str(exc)}
            questions = questions_for(
                order, self.market.price(order.contract.conid), warnings=self.order_warnings,
                suppressed=self.suppressed.get(principal.token_id, ()))
            if questions:
                return self._ask(order, questions)
            return self._accept(principal, account, order, flags, reason)

    def _accept(self, principal: Principal, account: Account, order: Order,
                flags: Collection[str], reason: str) -> list[dict[str, Any]]:
        """Submit, then apply the order faults drawn for this request."""
        return self._session_fault(principal, flags, self._submit(account, order, flags, reason))

    def _session_fault(self, principal: Principal, flags: Collection[str],
                       answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The `session_change` fault: the caller's brokerage session closes after acceptance."""
        if "session_change" in flags:
            self.stats.fault("session_change")
            session = self.sessions.get(principal.token_id)
            if session is not None:
                session.close()
        return answer

    def reply(self, principal: Principal, reply_id: str, confirmed: bool,
              flags: Collection[str] = (), reason: str = "") -> Any:
        """POST /iserver/reply/{id}: next question, the placed list, or the drop answer."""
        now = self.clock()
        with self.lock:
            pending = self.replies.pop(reply_id, None)
            if pending is None or \
                    pending.order.account not in self.login_accounts(principal) or \
                    now - pending.created > self.reply_ttl:
                raise ApiError(400, {"error": f"reply id not found: '{reply_id}'"})
            if not confirmed:
                self.stats.incr("orders_rejected")
                return {"error": "Order was not confirmed and has been cancelled "
                                 "(reply answered with confirmed=false).", "confirmed": False}
            if pending.remaining:
                return self._new_reply(pending.order, pending.remaining, pending.apply,
                                       pending.group)
            if pending.apply is not None:
                return pending.apply(flags)
            account = self.accounts[pending.order.account]
            if pending.group:
                return self._accept_group(principal, account, pending.group, flags, reason)
            try:
                self._check_coid(account, pending.order)
            except OrderRejectedError as exc:
                self.stats.incr("orders_rejected")
                return {"error": str(exc)}
            return self._accept(principal, account, pending.order, flags, reason)

    def _submit(self, account: Account, order: Order, flags: Collection[str] = (),
                reason: str = "") -> list[dict[str, Any]]:
        """Accept the order: give it an id, register its cOID and try to execute at once."""
        order.order_id = self.next_order_id
        self.next_order_id += 1
        now = order.created = self.clock()
        if order.coid is not None:
            account.coids.add(order.coid)
        self.orders[order.order_id] = order
        self._open_orders()[order.order_id] = order  # leaves at the next evaluate if final
        self.stats.incr("orders_accepted")
        if "inactive" in flags:
            self.stats.fault("inactive")
            order.reason = reason
            order.set_status("Inactive", now)
        elif self.pending_submit_s > 0:
            order.submit_at = now + self.pending_submit_s
            order.set_status("PendingSubmit", now)
        else:
            self._activate(order, now)
        if "inactive_later" in flags and "inactive" not in flags:
            self.stats.fault("inactive_later")
            order.inactive_later = True
            order.reason = reason
        answer: dict[str, Any] = {"order_id": str(order.order_id), "order_status": order.status,
                                  "encrypt_message": "1"}
        if order.status == "Inactive" and reason:
            answer["text"] = reason
        return [answer]

    def _place_group(self, principal: Principal, account: Account, tickets: list[Any],
                     flags: Collection[str], reason: str) -> Any:
        """A bracket or OCA request (order_groups.py): questions about any leg, then all legs."""
        with self.lock:
            try:
                orders = parse_group(tickets, account.account_id, self.market.contracts,
                                     self.clock())
                for order in orders:
                    self._check_coid(account, order)
            except OrderRejectedError as exc:
                self.stats.incr("orders_rejected")
                return {"error": str(exc)}
            questions: list[tuple[str, str]] = []
            for order in orders:
                for question in questions_for(
                        order, self.market.price(order.contract.conid),
                        warnings=self.order_warnings,
                        suppressed=self.suppressed.get(principal.token_id, ())):
                    if question[0] not in {q[0] for q in questions}:
                        questions.append(question)
            if questions:
                return self._ask(orders[0], questions, group=orders)
            return self._accept_group(principal, account, orders, flags, reason)

    def _accept_group(self, principal: Principal, account: Account, orders: list[Order],
                      flags: Collection[str], reason: str) -> list[dict[str, Any]]:
        """Submit every leg (the parent first); `leg_refused` refuses the last leg."""
        for order in orders:
            try:
                self._check_coid(account, order)
                # As for one order: trailing stops, cash quantities and the values as placed.
                order.prepare(self.market.price(order.contract.conid))
            except OrderRejectedError as exc:
                self.stats.incr("orders_rejected")
                return [{"error": str(exc)}]
        refused = orders[-1] if "leg_refused" in flags else None
        if refused is not None:
            self.stats.fault("leg_refused")
            self.stats.incr("orders_rejected")
        accepted = [o for o in orders if o is not refused]
        now = self.clock()
        for order in accepted:
            order.order_id = self.next_order_id
            self.next_order_id += 1
            order.created = now
            if order.coid is not None:
                account.coids.add(order.coid)
            self.orders[order.order_id] = order
            self._open_orders()[order.order_id] = order
            self.stats.incr("orders_accepted")
            order.set_status("PreSubmitted" if order.held else "PendingSubmit", now)
        start(accepted)  # OCA ids and parent links before any leg can trade
        for n, order in enumerate(accepted):
            if order.held:
                continue  # a bracket child waits, PreSubmitted, for its parent's fill
            if n == 0 and "inactive" in flags:
                self.stats.fault("inactive")
                order.reason = reason
                order.set_status("Inactive", now)
            elif self.pending_submit_s > 0:
                order.submit_at = now + self.pending_submit_s
            elif order.status == "PendingSubmit":  # an OCA sibling's fill may have cancelled it
                self._activate(order, now)
        self.evaluate()
        answer: list[dict[str, Any]] = []
        for order in accepted:
            item: dict[str, Any] = {"order_id": str(order.order_id),
                                    "order_status": order.status, "encrypt_message": "1"}
            if order.status == "Inactive" and reason:
                item["text"] = reason
            answer.append(item)
        if refused is not None:
            answer.append({"error": LEG_REFUSED_TEXT})
        return self._session_fault(principal, flags, answer)

    def cancel(self, principal: Principal, account_id: str, order_id: str) -> dict[str, Any]:
        """DELETE an order: acknowledge and move it to PendingCancel, then Cancelled."""
        self.order_account(principal, account_id)
        with self.lock:
            order = self.orders.get(int(order_id)) if order_id.isdigit() else None
            if order is None or order.account != account_id:
                return {"error": f"OrderID {order_id} doesn't exist"}
            if order.status not in WORKING:
                return {"error": f"OrderID {order_id} cannot be cancelled, status: {order.status}"}
            order.set_status("PendingCancel", self.clock())
            order.cancel_at = self.clock() + self.cancel_delay
            self.stats.incr("orders_cancelled")
            self.evaluate()
            return {"msg": "Request was submitted", "order_id": order.order_id,
                    "conid": order.contract.conid, "account": account_id}

    def live_orders(self, session: BrokerSession, account_id: str, filters: set[str],
                    force: bool, lag: float = 0.0, *, account_given: bool = True
                    ) -> dict[str, Any]:
        """GET /iserver/account/orders with the session's pre-flight and force=true behaviour.

        Scope "session" (IBKR): working orders plus those that changed status since this
        brokerage session opened; scope "day": every order of the day. Orders accepted less
        than `lag` seconds ago are not listed yet (the live-orders lag fault). With the
        `incomplete_live_orders` rule, an answer without `accountId` is empty and a filtered
        answer lists only its first match (what users report from some sessions).
        """
        now = self.clock()
        with self.lock:
            if not session.orders_primed or (force and not session.last_orders_empty):
                session.orders_primed = True
                session.last_orders_empty = True
                return {"orders": [], "snapshot": False}
            session.last_orders_empty = False
            if self.account_rules.incomplete_live_orders and not account_given:
                return {"orders": [], "snapshot": True}
            today = int(self.clock() // 86400)
            wanted = {f.replace("_", "").lower() for f in filters} - {"sortbytime", ""}
            out = []
            for order in self.orders.values():
                if order.account != account_id:
                    continue
                if order.status not in WORKING and int(order.created // 86400) != today:
                    continue
                if self.live_orders_scope == "session" and order.status not in WORKING and \
                        order.status != "PendingCancel" and order.updated < session.opened_at:
                    continue
                if lag and now - order.created < lag:
                    continue
                if wanted and order.status.lower() not in wanted:
                    continue
                out.append(render_live(order))
            if self.account_rules.incomplete_live_orders and wanted:
                out = out[:1]
            return {"orders": out, "snapshot": True}

    def trades(self, account_id: str, days: int = 1) -> list[dict[str, Any]]:
        """GET /iserver/account/trades: the account's executions of the last `days` (1-7) days.

        Not scoped to the brokerage session: this is where a filled order is found again after
        a session change.
        """
        since = self.clock() - max(1, min(days, 7)) * 86400.0
        with self.lock:
            return [render_trade(order, n, fill)
                    for order in self.orders.values() if order.account == account_id
                    for n, fill in enumerate(order.fills) if fill.time >= since]

    def order_status(self, principal: Principal, order_id: str) -> dict[str, Any]:
        """GET /iserver/account/order/status/{orderId}: one order of the caller's account."""
        with self.lock:
            order = self.orders.get(int(order_id)) if order_id.isdigit() else None
            if order is None or order.account not in self.login_accounts(principal):
                raise ApiError(400, {"error": f"OrderID {order_id} doesn't exist",
                                     "statusCode": 400})
            return render_status(order)

    def suppress(self, principal: Principal, body: Any) -> dict[str, Any]:
        """POST /iserver/questions/suppress {"messageIds": [...]}: stop asking these ids."""
        ids = body.get("messageIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, {"error": "messageIds must be a non-empty list of message ids",
                                 "statusCode": 400})
        wrong = sorted({i for i in ids if i.lower() not in SUPPRESSIBLE})
        if wrong:
            raise ApiError(400, {"error": f"Message id(s) cannot be suppressed: {wrong}",
                                 "statusCode": 400})
        with self.lock:
            self.suppressed.setdefault(principal.token_id, set()).update(i.lower() for i in ids)
        return {"status": "submitted"}

    def suppress_reset(self, principal: Principal) -> dict[str, Any]:
        """POST /iserver/questions/suppress/reset: ask every question again."""
        with self.lock:
            self.suppressed.pop(principal.token_id, None)
        return {"status": "submitted"}

    def logical_requests(self) -> dict[str, Any]:
        """Accepted orders per logical request (account, conid, side, qty, type, prices, tif)."""
        with self.lock:
            groups: dict[str, list[Order]] = {}
            for order in self.orders.values():
                groups.setdefault(order.logical_key, []).append(order)
        return {
            "logical_requests": len(groups),
            "logical_duplicates": sum(len(g) - 1 for g in groups.values()),
            "orders_per_logical_request": {
                key: {"orders": len(g), "order_ids": [o.order_id for o in g],
                      "cOIDs": [o.coid for o in g]} for key, g in groups.items()},
        }

    def admin_orders(self) -> list[dict[str, Any]]:
        """Every order for GET /__sim/orders."""
        with self.lock:
            return [o.to_admin() for o in self.orders.values()]
