"""Bad-input corpus for order and quote requests: typed errors naming a field, nothing sent, no secret."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from noetl_ib_plugin import testing
from noetl_ib_plugin.errors import (
    ContractMismatch,
    ContractNotFound,
    IBPluginError,
    InputError,
    LiveTradingRefused,
    OrderRejected,
    OrderUnconfirmed,
)
from noetl_ib_plugin.runner import get_client, resolve_credential, run_action
from noetl_ib_plugin.simulator import Simulator
from tests.reliability.canary import SecretScanner, record_secrets

CRED = "sim_oauth2"
AAPL = 265598
DROP = object()
#: Stands for the id of an order the generated cancel test places first.
REAL_ORDER = "<real order>"
#: A resting LMT buy 1% under the pinned price: valid, no question, never fills.
BASE: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                        "limit_price": 99.0}


def _args(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied; a DROP value removes the key."""
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not DROP}


#: place_order arguments the input model must refuse: (id, changes to BASE, field named).
PLACE_INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("negative-quantity", {"quantity": -1}, "quantity"),
    ("zero-quantity", {"quantity": 0}, "quantity"),
    ("nan-quantity", {"quantity": math.nan}, "quantity"),
    ("inf-quantity", {"quantity": math.inf}, "quantity"),
    ("minus-inf-quantity", {"quantity": -math.inf}, "quantity"),
    ("string-inf-quantity", {"quantity": "Infinity"}, "quantity"),
    ("string-nan-quantity", {"quantity": "NaN"}, "quantity"),
    ("word-quantity", {"quantity": "ten"}, "quantity"),
    ("comma-quantity", {"quantity": "1,5"}, "quantity"),
    ("bool-quantity", {"quantity": True}, "quantity"),
    ("list-quantity", {"quantity": [1]}, "quantity"),
    ("dict-quantity", {"quantity": {"n": 1}}, "quantity"),
    ("none-quantity", {"quantity": None}, "quantity"),
    ("missing-quantity", {"quantity": DROP}, "quantity"),
    ("nan-limit", {"limit_price": math.nan}, "limit_price"),
    ("inf-limit", {"limit_price": math.inf}, "limit_price"),
    ("negative-limit", {"limit_price": -1.0}, "limit_price"),
    ("zero-limit", {"limit_price": 0}, "limit_price"),
    ("word-limit", {"limit_price": "cheap"}, "limit_price"),
    ("lmt-without-price", {"limit_price": DROP}, "limit_price"),
    ("mkt-with-limit", {"order_type": "MKT"}, "limit_price"),
    ("stp-without-stop", {"order_type": "STP", "limit_price": DROP}, "stop_price"),
    ("stp-with-limit", {"order_type": "STP", "stop_price": 101.0}, "limit_price"),
    ("stop-limit-missing-stop", {"order_type": "STOP_LIMIT"}, "stop_price"),
    ("stop-limit-missing-limit", {"order_type": "STOP LIMIT", "limit_price": DROP,
                                  "stop_price": 101.0}, "limit_price"),
    ("lmt-with-stop", {"stop_price": 101.0}, "stop_price"),
    ("inf-stop", {"order_type": "STP", "limit_price": DROP, "stop_price": math.inf}, "stop_price"),
    ("unknown-order-type", {"order_type": "MIDPRICE"}, "order_type"),
    ("empty-order-type", {"order_type": ""}, "order_type"),
    ("int-order-type", {"order_type": 5}, "order_type"),
    ("bad-side", {"side": "HOLD"}, "side"),
    ("empty-side", {"side": ""}, "side"),
    ("int-side", {"side": 1}, "side"),
    ("list-side", {"side": ["BUY"]}, "side"),
    ("missing-side", {"side": DROP}, "side"),
    ("bad-tif", {"tif": "FOREVER"}, "tif"),
    ("int-tif", {"tif": 3}, "tif"),
    ("empty-symbol", {"symbol": ""}, "symbol"),
    ("blank-symbol", {"symbol": "   "}, "symbol"),
    ("no-symbol-no-conid", {"symbol": DROP}, "symbol"),
    ("list-symbol", {"symbol": ["AAPL"]}, "symbol"),
    ("long-symbol", {"symbol": "A" * 33}, "symbol"),
    ("nul-in-symbol", {"symbol": "AAPL\x00"}, "symbol"),
    ("newline-in-symbol", {"symbol": "AAPL\nINFO forged log line"}, "symbol"),
    ("conid-not-int", {"symbol": DROP, "conid": "abc"}, "conid"),
    ("conid-fraction", {"symbol": DROP, "conid": 1.5}, "conid"),
    ("negative-conid", {"symbol": DROP, "conid": -5}, "conid"),
    ("zero-conid", {"symbol": DROP, "conid": 0}, "conid"),
    ("huge-conid", {"symbol": DROP, "conid": 10**30}, "conid"),
    ("bool-conid", {"symbol": DROP, "conid": True}, "conid"),
    ("list-conid", {"symbol": DROP, "conid": [AAPL]}, "conid"),
    ("unknown-argument", {"qty": 5}, "qty"),
    ("misspelt-argument", {"limitprice": 99.0}, "limitprice"),
    ("coid-with-space", {"client_order_id": "my order"}, "client_order_id"),
    ("coid-empty", {"client_order_id": ""}, "client_order_id"),
    ("coid-too-long", {"client_order_id": "x" * 65}, "client_order_id"),
    ("coid-injection", {"client_order_id": "a';DROP TABLE orders--"}, "client_order_id"),
    ("confirm-not-list", {"confirm": 5}, "confirm"),
    ("confirm-dict", {"confirm": {"o163": True}}, "confirm"),
    ("outside-rth-word", {"outside_rth": "maybe"}, "outside_rth"),
    ("account-path-traversal", {"account_id": "DU1234567/../../../iserver/accounts"}, "account_id"),
    ("account-query", {"account_id": "DU1234567?x=1"}, "account_id"),
    ("account-int", {"account_id": 1234567}, "account_id"),
    ("empty-sec-type", {"sec_type": ""}, "sec_type"),
    # Issue 11 item 11: a bound and a character set for every input.
    ("unicode-symbol", {"symbol": "ÄPPL"}, "symbol"),
    ("emoji-symbol", {"symbol": "📈"}, "symbol"),
    ("sql-injection-symbol", {"symbol": "AAPL'; DROP TABLE--"}, "symbol"),
    ("path-traversal-symbol", {"symbol": "../../etc/passwd"}, "symbol"),
    ("percent-encoded-symbol", {"symbol": "%2e%2e%2f"}, "symbol"),
    ("rtl-override-symbol", {"symbol": "AAPL\u202eLPAA"}, "symbol"),
    ("quantity-1e-300", {"quantity": 1e-300}, "quantity"),
    ("quantity-1e308", {"quantity": 1e308}, "quantity"),
    ("huge-quantity", {"quantity": 10**30}, "quantity"),
    ("limit-1e308", {"limit_price": 1e308}, "limit_price"),
    ("absurd-limit", {"limit_price": 1e300}, "limit_price"),
    ("tiny-limit", {"limit_price": 1e-9}, "limit_price"),
    ("stop-1e308", {"order_type": "STP", "limit_price": DROP, "stop_price": 1e308}, "stop_price"),
    ("sec-type-20k-escapes", {"sec_type": "STK\x1b[31m\\u0000" + "A" * 20000}, "sec_type"),
    ("sec-type-newline", {"sec_type": "STK\nOPT"}, "sec_type"),
    ("exchange-control", {"exchange": "NYSE\x07"}, "exchange"),
    ("exchange-long", {"exchange": "N" * 17}, "exchange"),
    ("currency-control", {"currency": "US\nD"}, "currency"),
    ("currency-four-letters", {"currency": "USDT"}, "currency"),
    ("confirm-control", {"confirm": ["o163\r\nX: 1"]}, "confirm"),
    ("confirm-too-many", {"confirm": ["o163"] * 101}, "confirm"),
    ("name-argument", {"name": "x"}, "name"),
]

#: Valid to the model but impossible at the broker: (id, changes, error type, field or None).
PLACE_REFUSED: list[tuple[str, dict[str, Any], type[IBPluginError], str | None]] = [
    ("unknown-symbol", {"symbol": "ZZZZQ"}, ContractNotFound, "symbol"),
    ("unknown-dotted-symbol", {"symbol": "BRK.Z"}, ContractNotFound, "symbol"),
    ("symbol-and-other-conid", {"conid": 272093}, InputError, "conid"),
    ("unknown-conid", {"symbol": DROP, "conid": 424242}, ContractNotFound, "conid"),
    ("options-sec-type", {"sec_type": "OPT"}, ContractMismatch, "sec_type"),
    ("large-quantity", {"quantity": 9_000_000}, OrderRejected, None),
    ("far-limit", {"limit_price": 9_000_000.0}, OrderRejected, None),
    ("smallest-limit", {"limit_price": 0.000001}, OrderRejected, None),
    ("live-account", {"account_id": "U1234567"}, LiveTradingRefused, "account_id"),
]

#: cancel_order arguments the model must refuse: (id, args, field named).
CANCEL_INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("missing-order-id", {}, "order_id"),
    ("empty-order-id", {"order_id": ""}, "order_id"),
    ("word-order-id", {"order_id": "abc"}, "order_id"),
    ("negative-order-id", {"order_id": -5}, "order_id"),
    ("negative-string-order-id", {"order_id": "-5"}, "order_id"),
    ("fraction-order-id", {"order_id": 1.5}, "order_id"),
    ("bool-order-id", {"order_id": True}, "order_id"),
    ("list-order-id", {"order_id": [1]}, "order_id"),
    ("path-order-id", {"order_id": "1/../../logout"}, "order_id"),
    ("none-order-id", {"order_id": None}, "order_id"),
    ("unknown-argument", {"order_id": "1", "force": True}, "force"),
    ("account-path-traversal", {"order_id": "1", "account_id": "../x"}, "account_id"),
    ("arabic-digits-order-id", {"order_id": "\u0661\u0662\u0663"}, "order_id"),
    ("fullwidth-digits-order-id", {"order_id": "\uff11\uff12\uff13"}, "order_id"),
    ("superscript-order-id", {"order_id": "\u00b9\u00b2"}, "order_id"),
    ("long-order-id", {"order_id": "0" * 300}, "order_id"),
    ("huge-order-id", {"order_id": 10**30}, "order_id"),
]

#: snapshot arguments the model must refuse: (id, args, field named).
SNAPSHOT_INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("nothing-asked", {}, "symbols"),
    ("empty-lists", {"symbols": [], "conids": []}, "symbols"),
    ("bad-field-name", {"symbols": ["AAPL"], "fields": ["lastt"]}, "fields"),
    ("bad-field-in-string", {"symbols": ["AAPL"], "fields": "last,nope"}, "fields"),
    ("no-fields", {"symbols": ["AAPL"], "fields": []}, "fields"),
    ("unicode-digit-field", {"symbols": ["AAPL"], "fields": ["\u00b2"]}, "fields"),
    ("injection-field", {"symbols": ["AAPL"], "fields": ["31&conids=1"]}, "fields"),
    ("too-many-fields", {"symbols": ["AAPL"], "fields": ["31"] * 51}, "fields"),
    ("conid-word", {"conids": "abc"}, "conids"),
    ("conid-negative", {"conids": [-1]}, "conids"),
    ("conid-zero", {"conids": [0]}, "conids"),
    ("conid-huge", {"conids": [2**40]}, "conids"),
    ("conid-bool", {"conids": [True]}, "conids"),
    ("conid-nested", {"conids": [[AAPL]]}, "conids"),
    ("symbol-int", {"symbols": [5]}, "symbols"),
    ("symbol-empty-item", {"symbols": [""]}, "symbols"),
    ("symbol-newline", {"symbols": ["AAPL\r\nX-Injected: 1"]}, "symbols"),
    ("max-wait-negative", {"symbols": ["AAPL"], "max_wait": -1}, "max_wait"),
    ("max-wait-nan", {"symbols": ["AAPL"], "max_wait": math.nan}, "max_wait"),
    ("max-wait-huge", {"symbols": ["AAPL"], "max_wait": 1e9}, "max_wait"),
    ("max-attempts-zero", {"symbols": ["AAPL"], "max_attempts": 0}, "max_attempts"),
    ("poll-interval-word", {"symbols": ["AAPL"], "poll_interval": "fast"}, "poll_interval"),
    ("unknown-argument", {"symbols": ["AAPL"], "field": ["last"]}, "field"),
    ("exchange-control", {"symbols": ["AAPL"], "exchange": "NASDAQ\x00"}, "exchange"),
    ("currency-control", {"symbols": ["AAPL"], "currency": "\x1bUSD"}, "currency"),
    ("symbol-rtl-override", {"symbols": ["\u202eAAPL"]}, "symbols"),
    ("too-many-symbols", {"symbols": ["AAPL"] * 101}, "symbols"),
    ("field-20k", {"symbols": ["AAPL"], "fields": ["x" * 20000]}, "fields"),
]

#: get_open_orders arguments the model must refuse: (id, args, field named).
OPEN_ORDERS_INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("filter-control", {"filters": ["Submitted\x00"]}, "filters"),
    ("filter-newline-in-string", {"filters": "Submitted,Filled\nX"}, "filters"),
    ("filter-unicode", {"filters": ["Fill\u202eed"]}, "filters"),
    ("filter-long", {"filters": ["S" * 33]}, "filters"),
    ("too-many-filters", {"filters": ["Filled"] * 21}, "filters"),
    ("include-inactive-word", {"include_inactive": "perhaps"}, "include_inactive"),
]


@pytest.fixture(scope="module")
def warm(module_sim: Simulator, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Simulator, SecretScanner, Path]]:
    """The module's simulator with both clients logged in once, and a scanner for every secret.

    Clients are built here (own token cache, pacing off) and reused by every test of the module,
    so the scanner knows the very tokens the calls use.
    """
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("warm")
        for name, value in _warm_environment(home).items():
            mp.setenv(name, value)
        testing.reset()
        sim_warm = module_sim
        sim_warm.reset()
        sim_warm.set_price(AAPL, 100.0)
        scan = SecretScanner(record_secrets(sim_warm.credentials_file))
        for cred in ("sim_oauth2", "sim_oauth1a"):
            provider = get_client(resolve_credential(cred, sim_warm.credentials_file)).provider
            token = provider.current_token()
            scan.add(f"{cred}.token", token.value)
            for key, value in token.extra.items():
                if isinstance(value, str) and len(value) >= 8:
                    scan.add(f"{cred}.token.{key}", value)
        assert sim_warm.keys is not None
        scan.add("sim_oauth1a.prepend", sim_warm.keys.access_token_secret_plain.hex())
        try:
            yield sim_warm, scan, home
        finally:
            testing.reset()


def _warm_environment(home: Path) -> dict[str, str]:
    """The module's token cache and alias store, pacing off: the settings of the host (and its
    clients) that `warm` built."""
    return {"NOETL_IB_CACHE_DIR": str(home / "token-cache"),
            "NOETL_CREDENTIALS_DIR": str(home / "noetl-credentials"), "NOETL_IB_PACING": "off"}


@pytest.fixture
def sim_warm(warm: tuple[Simulator, SecretScanner, Path], monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The warmed-up simulator (not reset between tests: assertions use counter deltas), with the
    environment `warm` logged in under put back over the per-test isolation (conftest), so every
    call goes through the same host and clients: the scanner knows their tokens, and no call
    waits out IBKR's pacing (5 s per /iserver/account/orders) that this module does not test."""
    for name, value in _warm_environment(warm[2]).items():
        monkeypatch.setenv(name, value)
    return warm[0]


@pytest.fixture
def scanner(warm: tuple[Simulator, SecretScanner, Path]) -> SecretScanner:
    """Scanner for the records' keys and secrets, both providers' tokens and the prepend."""
    return warm[1]


def _call(sim_warm: Simulator, action: str, args: dict[str, Any]) -> tuple[IBPluginError | None,
                                                                      dict[str, Any] | None]:
    """run_action; a typed error is returned, anything else propagates (and fails the test)."""
    try:
        return None, run_action(action, CRED, credentials_file=sim_warm.credentials_file, **args)
    except IBPluginError as exc:
        return exc, None


def _assert_validation_error(sim_warm: Simulator, scanner: SecretScanner, action: str,
                             args: dict[str, Any], field: str) -> None:
    """A typed InputError naming `field`, no request sent, no order, no secret."""
    before = sim_warm.stats()
    exc, result = _call(sim_warm, action, args)
    after = sim_warm.stats()
    assert result is None and isinstance(exc, InputError), (args, result)
    assert exc.field is not None and exc.field.split(".")[0] == field, (exc.field, str(exc))
    assert field in str(exc) and exc.to_dict()["field"] == exc.field
    assert after["requests_total"] == before["requests_total"], "validation sent a request"
    assert after["orders_accepted"] == before["orders_accepted"]
    scanner.assert_clean([str(exc), repr(exc), str(exc.to_dict())], f"{action} {args!r}")


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in PLACE_INVALID],
                         ids=[c[0] for c in PLACE_INVALID])
def test_place_order_invalid_input(sim_warm: Simulator, scanner: SecretScanner,
                                   changes: dict[str, Any], field: str) -> None:
    """A malformed order is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim_warm, scanner, "place_order", _args(BASE, changes), field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in CANCEL_INVALID],
                         ids=[c[0] for c in CANCEL_INVALID])
def test_cancel_order_invalid_input(sim_warm: Simulator, scanner: SecretScanner,
                                    args: dict[str, Any], field: str) -> None:
    """A malformed cancel is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim_warm, scanner, "cancel_order", args, field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in SNAPSHOT_INVALID],
                         ids=[c[0] for c in SNAPSHOT_INVALID])
def test_snapshot_invalid_input(sim_warm: Simulator, scanner: SecretScanner,
                                args: dict[str, Any], field: str) -> None:
    """A malformed quote request is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim_warm, scanner, "snapshot", {"max_wait": 0.5, **args}, field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in OPEN_ORDERS_INVALID],
                         ids=[c[0] for c in OPEN_ORDERS_INVALID])
def test_get_open_orders_invalid_input(sim_warm: Simulator, scanner: SecretScanner,
                                       args: dict[str, Any], field: str) -> None:
    """A malformed open-orders filter is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim_warm, scanner, "get_open_orders", args, field)


@pytest.mark.parametrize(("changes", "error", "field"), [c[1:] for c in PLACE_REFUSED],
                         ids=[c[0] for c in PLACE_REFUSED])
def test_place_order_refused_without_an_order(sim_warm: Simulator, scanner: SecretScanner,
                                              changes: dict[str, Any], error: type[IBPluginError],
                                              field: str | None) -> None:
    """Well-formed but impossible orders end in a typed error and leave the book untouched."""
    before = sim_warm.stats()["orders_accepted"]
    exc, result = _call(sim_warm, "place_order", _args(BASE, changes))
    assert result is None and isinstance(exc, error), (exc, result)
    if field is not None:
        assert exc.field == field and field in str(exc)
    assert sim_warm.stats()["orders_accepted"] == before
    scanner.assert_clean([str(exc), repr(exc)], f"place_order {changes!r}")


@pytest.mark.parametrize("order_id", ["424242", 9 * 10**18, "9" * 19], ids=["unknown", "huge", "long"])
def test_cancel_unknown_order_names_order_id(sim_warm: Simulator, scanner: SecretScanner,
                                             order_id: Any) -> None:
    """Cancelling an id the broker does not know is a BrokerError naming order_id."""
    before = sim_warm.stats()["orders_cancelled"]
    exc, _ = _call(sim_warm, "cancel_order", {"order_id": order_id})
    assert exc is not None and exc.category == "broker" and exc.field == "order_id"
    assert sim_warm.stats()["orders_cancelled"] == before
    scanner.assert_clean([str(exc), repr(exc)], "cancel_order")


def test_valid_baseline_order_is_placed_once(sim_warm: Simulator, scanner: SecretScanner) -> None:
    """The corpus' BASE order really is valid: it rests in the book exactly once."""
    exc, result = _call(sim_warm, "place_order", {**BASE, "client_order_id": "corpus-base-1"})
    assert exc is None and result is not None
    assert [o["order_id"] for o in sim_warm.orders() if o["cOID"] == "corpus-base-1"] == [
        int(result["order_id"])
    ]
    scanner.assert_clean([repr(result)], "place_order result")


def test_corpus_is_large_enough() -> None:
    """The hand-written corpus keeps at least 30 order cases and covers all three actions."""
    assert len(PLACE_INVALID) + len(PLACE_REFUSED) >= 30
    assert len(CANCEL_INVALID) >= 10 and len(SNAPSHOT_INVALID) >= 15


# -- generated inputs, judged by an oracle written from the actions' documented inputs -------------
#
# `expected` never calls the product's input models: it restates each argument's rule (type,
# range, characters, list shape) in plain Python. Junk strings come from an alphabet without
# digits (number text is curated), and account_id takes only curated values (its rule is issue
# 11 item 1, owned elsewhere), so every verdict follows from the rules written here.

_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._&+-]*")
_EXCHANGE = re.compile(r"[A-Za-z0-9._-]+")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_SEC_TYPE = re.compile(r"[A-Za-z]+")
_COID = re.compile(r"[A-Za-z0-9._:\-]+")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_]+")
_STATUS = re.compile(r"[A-Za-z_]+")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]+")
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,32}")
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_WHOLE_TEXT = re.compile(r"\s*[0-9]+\s*")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SIDES = {"BUY", "SELL"}
_TIFS = {"DAY", "GTC", "IOC", "OPG", "FOK"}
_ORDER_TYPES = {"MKT": "MKT", "MARKET": "MKT", "LMT": "LMT", "LIMIT": "LMT", "STP": "STP",
                "STOP": "STP", "STOP_LIMIT": "STOP_LIMIT", "STP_LMT": "STOP_LIMIT",
                "STOPLIMIT": "STOP_LIMIT", "STPLMT": "STOP_LIMIT", "STOP_LMT": "STOP_LIMIT",
                "STP_LIMIT": "STOP_LIMIT", "TRAIL": "TRAIL", "TRAILING_STOP": "TRAIL",
                "TRAILLMT": "TRAILLMT", "TRAIL_LMT": "TRAILLMT", "TRAIL_LIMIT": "TRAILLMT",
                "TRAILING_STOP_LIMIT": "TRAILLMT"}
_SNAPSHOT_FIELDS = {"last", "symbol", "high", "low", "change", "change_pct", "bid", "ask_size",
                    "ask", "volume", "bid_size", "availability", "last_size", "open", "close",
                    "prior_close"}
_TRUTHY = {"1", "on", "t", "true", "y", "yes", "0", "off", "f", "false", "n", "no"}
#: The simulator's listings the generators use: symbol -> conid.
_LISTED = {"AAPL": AAPL, "MSFT": 272093, "IBM": 8314, "SPY": 756733}
MAX_CONID_ = 2**31 - 1


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or decimal text; None for anything else (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 1e308 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _whole(value: Any) -> int | None:
    """A whole number from an int, an integral float or digit text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _WHOLE_TEXT.fullmatch(value):
        return int(value)
    return None


def _flag(value: Any) -> bool:
    """A boolean: true/false, 0/1 or the usual yes/no, on/off, t/f, y/n spellings."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value in (0, 1)
    return isinstance(value, str) and value.strip().lower() in _TRUTHY


def _word(value: Any, rule: re.Pattern[str], low: int, high: int) -> bool:
    """A string that, stripped of surrounding whitespace, has `low`..`high` characters matching `rule`."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return low <= len(text) <= high and rule.fullmatch(text) is not None


def _items(value: Any) -> list[Any] | None:
    """A list as given, or comma-separated text split into stripped non-empty parts."""
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return list(value) if isinstance(value, list) else None


def _list_problems(name: str, value: Any, rule: re.Pattern[str], high_items: int) -> set[str]:
    """Problems of a list of words: `name` for the list itself, `name.i` for each bad item."""
    items = _items(value)
    if items is None:
        return {name}
    bad = {f"{name}.{i}" for i, item in enumerate(items) if not _word(item, rule, 1, 32)}
    if len(items) > high_items:
        bad.add(name)
    return bad


def _place_problems(args: dict[str, Any]) -> set[str]:
    bad: set[str] = set()
    known = {"symbol", "conid", "side", "quantity", "order_type", "limit_price", "stop_price",
             "tif", "exchange", "currency", "sec_type", "client_order_id", "confirm", "decline",
             "outside_rth", "account_id", "trailing_amount", "trailing_type", "limit_offset",
             "cash_quantity"}
    bad |= {k for k in args if k not in known}
    for name in ("side", "order_type"):
        if name not in args:
            bad.add(name)
    checks: dict[str, Callable[[Any], bool]] = {
        "symbol": lambda v: v is None or (
            isinstance(v, str) and not _CONTROL_CHARS.search(v) and _word(v, _SYMBOL, 1, 32)),
        "conid": lambda v: v is None or (_whole(v) is not None
                                         and 0 < (_whole(v) or 0) <= MAX_CONID_),
        "side": lambda v: isinstance(v, str) and v.strip().upper() in _SIDES,
        "quantity": lambda v: v is None or (_number(v) is not None
                                            and 0.0001 <= (_number(v) or 0) <= 1e7),
        "order_type": lambda v: isinstance(v, str) and (
            v.strip().upper().replace("-", "_").replace(" ", "_") in _ORDER_TYPES),
        "limit_price": lambda v: v is None or (_number(v) is not None
                                               and 1e-6 <= (_number(v) or 0) <= 1e7),
        "stop_price": lambda v: v is None or (_number(v) is not None
                                              and 1e-6 <= (_number(v) or 0) <= 1e7),
        "tif": lambda v: isinstance(v, str) and v.strip().upper() in _TIFS,
        "exchange": lambda v: v is None or _word(v, _EXCHANGE, 1, 16),
        "currency": lambda v: v is None or _word(v, _CURRENCY, 3, 3),
        "sec_type": lambda v: _word(v, _SEC_TYPE, 1, 8),
        "client_order_id": lambda v: v is None or _word(v, _COID, 1, 64),
        "outside_rth": _flag,
        "account_id": lambda v: v is None or _word(v, _ACCOUNT, 1, 32),
    }
    for name, ok in checks.items():
        if name in args and not ok(args[name]):
            bad.add(name)
    for name in ("confirm", "decline"):
        if name in args:
            bad |= _list_problems(name, args[name], _MESSAGE_ID, 100)
    if bad:
        return bad
    # Checks across fields run only once every field is valid; the first failing one is named.
    kind = _ORDER_TYPES[args["order_type"].strip().upper().replace("-", "_").replace(" ", "_")]
    needs_limit, needs_stop = kind in ("LMT", "STOP_LIMIT"), kind in ("STP", "STOP_LIMIT")
    if args.get("symbol") is None and args.get("conid") is None:
        return {"symbol"}
    if needs_limit != (args.get("limit_price") is not None):
        return {"limit_price"}
    if needs_stop != (args.get("stop_price") is not None):
        return {"stop_price"}
    if args.get("quantity") is None:  # the generators never give cash_quantity
        return {"quantity"}
    if kind in ("TRAIL", "TRAILLMT"):  # nor a trailing amount
        return {"trailing_amount"}
    return set()


def _snapshot_problems(args: dict[str, Any]) -> set[str]:
    bad = {k for k in args if k not in {"symbols", "conids", "fields", "exchange", "currency",
                                        "max_wait", "max_attempts", "poll_interval"}}
    symbols = _items(args.get("symbols", []))
    if "symbols" in args:
        bad |= _list_problems("symbols", args["symbols"], _SYMBOL, 100)
    conids: list[Any] | None = []
    if "conids" in args:
        raw = args["conids"]
        conids = _items(str(raw)) if isinstance(raw, (str, int)) and not isinstance(raw, bool) \
            else _items(raw)
        if conids is None or any(isinstance(c, bool) or (isinstance(c, str)
                                                         and not _WHOLE_TEXT.fullmatch(c))
                                 for c in conids):
            bad.add("conids")
        else:
            for i, c in enumerate(conids):
                whole = _whole(c)
                if whole is None or not 0 < whole <= MAX_CONID_:
                    bad.add(f"conids.{i}")
            if len(conids) > 100:
                bad.add("conids")
    if "fields" in args:
        names = _items(args["fields"])
        item_bad = _list_problems("fields", args["fields"], _FIELD_NAME, 50)
        bad |= {b for b in item_bad if b != "fields"}
        if names is None:
            bad.add("fields")
        elif not {b for b in item_bad if b != "fields"}:
            keys = [str(n).strip().lower() for n in names]
            if (not keys or len(keys) > 50
                    or any(k not in _SNAPSHOT_FIELDS and not (k.isascii() and k.isdigit())
                           for k in keys)):
                bad.add("fields")
    for name, rule, size in (("exchange", _EXCHANGE, 16), ("currency", _CURRENCY, 3)):
        if args.get(name) is not None and not _word(args[name], rule, 1 if size == 16 else 3,
                                                     size):
            bad.add(name)
    for name, high in (("max_wait", 60), ("poll_interval", 5)):
        if name in args and not (_number(args[name]) is not None
                                 and 0 <= (_number(args[name]) or 0) <= high):
            bad.add(name)
    if "max_attempts" in args and not (_whole(args["max_attempts"]) is not None
                                       and 1 <= (_whole(args["max_attempts"]) or 0) <= 200):
        bad.add("max_attempts")
    if not bad and not symbols and not conids:
        bad.add("symbols")
    return bad


def _cancel_problems(args: dict[str, Any]) -> set[str]:
    bad = {k for k in args if k not in {"order_id", "account_id"}}
    order_id = args.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not _word(order_id, re.compile(r"[0-9]+"), 1, 19):
        bad.add("order_id")
    if args.get("account_id") is not None and not _word(args["account_id"], _ACCOUNT, 1, 32):
        bad.add("account_id")
    return bad


def _open_orders_problems(args: dict[str, Any]) -> set[str]:
    bad = {k for k in args if k not in {"filters", "include_inactive"}}
    if "filters" in args:
        bad |= _list_problems("filters", args["filters"], _STATUS, 20)
    if "include_inactive" in args and not _flag(args["include_inactive"]):
        bad.add("include_inactive")
    return bad


def _account_problems(args: dict[str, Any]) -> set[str]:
    bad = {k for k in args if k != "account_id"}
    if args.get("account_id") is not None and not _word(args["account_id"], _ACCOUNT, 1, 32):
        bad.add("account_id")
    return bad


PROBLEMS: dict[str, Callable[[dict[str, Any]], set[str]]] = {
    "place_order": _place_problems,
    "snapshot": _snapshot_problems,
    "cancel_order": _cancel_problems,
    "get_open_orders": _open_orders_problems,
    "get_positions": _account_problems,
    "account_summary": _account_problems,
}


def _valid_outcomes(action: str, args: dict[str, Any]) -> set[tuple[str, str | None]]:
    """What a valid call may end in: ("ok", None) or (error type, field), by the broker's rules."""
    if action == "place_order":
        out: set[tuple[str, str | None]] = {("ok", None), ("OrderRejected", None)}
        if args.get("client_order_id") is not None:
            # Examples share one simulator: an earlier example may already hold this cOID for
            # another order, which is an idempotency-key conflict (issue 10), never a new order.
            out.add(("IdempotencyKeyConflict", "client_order_id"))
        symbol = args.get("symbol")
        listed = symbol is None or symbol.strip().upper() in _LISTED
        filtered = any(args.get(k) is not None for k in ("exchange", "currency")) or (
            str(args.get("sec_type", "STK")).strip().upper() != "STK")
        if not listed or filtered:
            out.add(("ContractNotFound", "symbol"))
        if str(args.get("sec_type", "STK")).strip().upper() != "STK":
            # Every listed contract is a stock: another type is never traded in its place.
            out.add(("ContractMismatch", "sec_type"))
        if symbol is None:
            out |= {("ContractMismatch", k) for k in ("exchange", "currency") if args.get(k)}
        conid = _whole(args["conid"]) if args.get("conid") is not None else None
        if conid is not None and conid not in _LISTED.values():
            out.add(("InputError", "conid") if symbol is not None else ("ContractNotFound", "conid"))
        elif conid is not None and symbol is not None and _LISTED.get(symbol.strip().upper()) != conid:
            out.add(("InputError", "conid"))
        return out
    if action == "snapshot":
        symbols = _items(args.get("symbols", [])) or []
        if any(str(s).strip().upper() not in _LISTED for s in symbols) or any(
                args.get(k) is not None for k in ("exchange", "currency")):
            return {("ok", None), ("ContractNotFound", "symbol")}
        return {("ok", None)}
    if action == "cancel_order":
        # A filled order cannot be cancelled (BrokerError); an id IBKR does not know is
        # OrderNotFound.
        return {("ok", None), ("BrokerError", "order_id"), ("OrderNotFound", "order_id")}
    if action == "get_open_orders":
        # IBKR's order statuses (Web API, live orders); anything else is refused up front.
        known = {"inactive", "pendingsubmit", "presubmitted", "submitted", "filled",
                 "pendingcancel", "precancelled", "cancelled"}
        given = _items(args.get("filters", [])) or []
        if any(str(f).strip().lower().replace("_", "").replace(" ", "") not in known
               for f in given):
            return {("InputError", "filters")}
    return {("ok", None)}


_LETTERS = st.characters(codec="utf-8", exclude_categories=["Nd", "No", "Nl", "Cs", "Zs", "Zl",
                                                             "Zp"],
                         exclude_characters="\x1c\x1d\x1e\x1f\x85")
_JUNK = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 1, 7, -5, 10**30, 2**31]),
    st.sampled_from([0.5, 2.0, 2.5, -1.0, 1e-300, 1e308, math.nan, math.inf, -math.inf]),
    st.text(_LETTERS, max_size=40), st.text(alphabet="abcXYZ ,._-\n\t\x00\x1b\u202e", max_size=12),
    st.text(alphabet="aZ._-&+ é\x07", min_size=3, max_size=3),
    st.lists(st.one_of(st.integers(-3, 10**12), st.text(_LETTERS, max_size=8)), max_size=3),
    st.dictionaries(st.text(_LETTERS, max_size=5), st.integers(), max_size=2),
    st.sampled_from(["../../etc/passwd", "AAPL'; DROP TABLE--", "DU1234567/..", "\x00", "²", "٣",
                     "1e3", "1_000", "Infinity", "-0", " ", "o163,,o383", "📈", "3", " 12 ",
                     "99.5", "1e400", "0x10", "yes", "off", "STK", "USD", "NASDAQ", "LMT",
                     "x" * 20_000]),
)

#: Order types with prices that fit them (LMT 95 draws IBKR's o163 question, which is declined).
_PRICED: st.SearchStrategy[dict[str, Any]] = st.sampled_from([
    {"order_type": "LMT", "limit_price": 99.0},
    {"order_type": "limit", "limit_price": "99.5"},
    {"order_type": "LMT", "limit_price": 95.0},
    {"order_type": "MKT"},
    {"order_type": "STP", "stop_price": 101.0},
    {"order_type": "STP", "stop_price": 98.0},
    {"order_type": "stp lmt", "stop_price": 101.0, "limit_price": 101.5},
])
_ORDER: tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]] = (
    {
        "symbol": st.sampled_from(["AAPL", "msft", " IBM ", "aapl", "SPY"]),
        "side": st.sampled_from(["BUY", "sell", "Sell "]),
        "quantity": st.sampled_from([1, 2.5, "3", 7]),
    },
    {
        "tif": st.sampled_from(["DAY", "gtc"]),
        "client_order_id": st.text(alphabet="abcdef0123456789-_.:", min_size=1, max_size=20),
        "confirm": st.sampled_from([["o163"], "o163,o383", []]),
        "decline": st.sampled_from([["o403"], "o10153"]),
        "outside_rth": st.booleans(),
        "account_id": st.just("DU1234567"),
        "currency": st.just("USD"),
    },
)
_SNAPSHOT: tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]] = (
    {
        "symbols": st.lists(st.sampled_from(["AAPL", "msft", " IBM ", "SPY"]), min_size=1,
                            max_size=3),
        # Waits stay short so a valid request for a conid without data is quick.
        "max_wait": st.sampled_from([0, 0.2]),
        "poll_interval": st.sampled_from([0, 0.05]),
    },
    {
        "conids": st.lists(st.sampled_from([AAPL, 8314, 424242]), max_size=3),
        "fields": st.lists(st.sampled_from(["last", "bid", "31", "LAST", "7295"]), min_size=1,
                           max_size=4),
        "exchange": st.sampled_from(["NASDAQ", "NYSE"]),
        "max_attempts": st.sampled_from([1, 2, 5]),
    },
)
_CANCEL: tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]] = (
    {"order_id": st.sampled_from([REAL_ORDER, REAL_ORDER, "1", 123, "999999"])},
    {"account_id": st.just("DU1234567")},
)
_OPEN_ORDERS: tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]] = (
    {},
    {"filters": st.sampled_from([["Submitted"], "Filled,Cancelled", [], ["inactive"]]),
     "include_inactive": st.booleans()},
)
_ACCOUNT_ONLY: tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]] = (
    {}, {"account_id": st.just("DU1234567")},
)
#: Keys a corruption may hit besides the action's own (unknown arguments).
_STRANGERS = ["bogus", "qty", "Symbol", "name"]
#: Never corrupted: the account rule is issue 11 item 1 (curated values only here).
_CURATED_ONLY = {"account_id"}


@st.composite
def _mutated(draw: st.DrawFn, shape: tuple[dict[str, st.SearchStrategy[Any]],
                                           dict[str, st.SearchStrategy[Any]]],
             priced: bool = False) -> dict[str, Any]:
    """A plausible argument dict, then 0-3 keys replaced by junk or dropped (none in 1/3)."""
    required, optional = shape
    args: dict[str, Any] = draw(st.fixed_dictionaries(required, optional=optional))
    if priced:
        args.update(draw(_PRICED))
    keys = sorted({*required, *optional, *args, *_STRANGERS} - _CURATED_ONLY)
    corrupt = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
    for key in draw(st.lists(st.sampled_from(keys), min_size=corrupt, max_size=corrupt,
                             unique=True)):
        if key in args and draw(st.booleans()):
            del args[key]
        else:
            args[key] = draw(_JUNK)
    if "max_wait" in required:  # keep even corrupted snapshots quick (a valid wait is capped)
        wait = args.setdefault("max_wait", 0.2)
        if isinstance(wait, (int, float)) and not isinstance(wait, bool) and 0.2 < wait <= 60:
            args["max_wait"] = 0.2
    return args


_ACTION_ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "place_order": _mutated(_ORDER, priced=True),
    "snapshot": _mutated(_SNAPSHOT),
    "cancel_order": _mutated(_CANCEL),
    "get_open_orders": _mutated(_OPEN_ORDERS),
    "get_positions": _mutated(_ACCOUNT_ONLY),
    "account_summary": _mutated(_ACCOUNT_ONLY),
}


def _check_any(sim_warm: Simulator, scanner: SecretScanner, action: str, args: dict[str, Any]) -> None:
    """The oracle decides: refused inputs are InputErrors naming one of the exact fields it
    rejects, with nothing sent; valid inputs end in one of the outcomes it allows. No secret."""
    expected = PROBLEMS[action](args)
    before = sim_warm.stats()
    exc, result = _call(sim_warm, action, args)
    after = sim_warm.stats()
    outcome = (type(exc).__name__, exc.field) if exc else ("ok", None)
    event(f"{action}: {'invalid' if expected else 'valid'} -> {outcome[0]}")
    if exc is not None:
        scanner.assert_clean([str(exc), repr(exc), str(exc.to_dict())], f"{action} {args!r:.200}")
    if expected:
        assert isinstance(exc, InputError) and exc.category == "input", (args, outcome, expected)
        assert exc.field in expected, (args, exc.field, sorted(expected))
        assert exc.field.split(".")[0] in str(exc)
        assert after["requests_total"] == before["requests_total"], "validation sent a request"
        return
    allowed = _valid_outcomes(action, args)
    assert outcome in allowed or (outcome[0], None) in allowed, (args, outcome, allowed)
    if exc is None:
        assert isinstance(result, dict)
        scanner.assert_clean([repr(result)], f"{action} result")
        return
    inputs = {"InputError": "input", "IdempotencyKeyConflict": "input"}
    assert exc.category == inputs.get(outcome[0], "broker"), outcome
    if not isinstance(exc, OrderUnconfirmed):
        assert after["orders_accepted"] == before["orders_accepted"], (action, args, exc)


_EXAMPLES = settings(max_examples=80, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@_EXAMPLES
@given(args=_ACTION_ARGS["place_order"])
def test_generated_place_order_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                      args: dict[str, Any]) -> None:
    """Random place_order arguments: a typed error naming a field, or a real order; never a crash."""
    _check_any(sim_warm, scanner, "place_order", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["snapshot"])
def test_generated_snapshot_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                   args: dict[str, Any]) -> None:
    """Random snapshot arguments: a typed error naming a field, or quotes; never a crash."""
    _check_any(sim_warm, scanner, "snapshot", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["cancel_order"])
def test_generated_cancel_order_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                       args: dict[str, Any]) -> None:
    """Random cancel_order arguments: a typed error naming a field, or an acknowledgement."""
    if args.get("order_id") == REAL_ORDER:
        placed = run_action("place_order", CRED, credentials_file=sim_warm.credentials_file, **BASE)
        args = {**args, "order_id": placed["order_id"]}
    _check_any(sim_warm, scanner, "cancel_order", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["get_open_orders"])
def test_generated_get_open_orders_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                          args: dict[str, Any]) -> None:
    """Random get_open_orders arguments: exactly the oracle's verdict; never a crash."""
    _check_any(sim_warm, scanner, "get_open_orders", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["get_positions"])
def test_generated_get_positions_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                        args: dict[str, Any]) -> None:
    """Random get_positions arguments: exactly the oracle's verdict; never a crash."""
    _check_any(sim_warm, scanner, "get_positions", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["account_summary"])
def test_generated_account_summary_inputs(sim_warm: Simulator, scanner: SecretScanner,
                                          args: dict[str, Any]) -> None:
    """Random account_summary arguments: exactly the oracle's verdict; never a crash."""
    _check_any(sim_warm, scanner, "account_summary", args)


#: Arguments of each action with valid and plausible values, for the one-argument test.
_ONE_ARG_BASE: dict[str, dict[str, Any]] = {
    "place_order": BASE,
    "snapshot": {"symbols": ["AAPL"], "max_wait": 0, "poll_interval": 0},
    "get_open_orders": {},
}
_ONE_ARG_NAMES: dict[str, list[str]] = {
    "place_order": ["symbol", "conid", "side", "quantity", "order_type", "limit_price",
                    "stop_price", "tif", "exchange", "currency", "sec_type", "client_order_id",
                    "confirm", "decline", "outside_rth", "bogus"],
    "snapshot": ["symbols", "conids", "fields", "exchange", "currency", "max_wait",
                 "max_attempts", "poll_interval", "bogus"],
    "get_open_orders": ["filters", "include_inactive", "name"],
}


#: Values at the edge of each argument's rule (either side), so every bound is exercised.
_EDGES: dict[str, list[Any]] = {
    "symbol": ["A" * 32, "A" * 33, "BRK B", "BRK.B", "-AAPL", "AA/PL", "AA\u202ePL", " aapl "],
    "symbols": [["A" * 32], ["A" * 33], "AAPL,IBM", ["AA\x00PL"], ["AAPL"] * 100, ["AAPL"] * 101],
    "conid": [1, 0, MAX_CONID_, MAX_CONID_ + 1, "265598", "265598.0", 265598.0, 265598.5],
    "conids": [[1], [0], "265598,8314", ["8314"], [MAX_CONID_ + 1], [AAPL] * 101, "1,x"],
    "side": ["buy", " SELL ", "BUYY", "B"],
    "quantity": [0.0001, 0.00009, 1e7, 1e7 + 1, "1e3", "2.5", ".5", "1.", "+3", "1e-5"],
    "order_type": ["stop-limit", "STP LMT", "stop limit", "TRAIL", "lmt"],
    "limit_price": [1e-6, 9e-7, 1e7, 1.0000001e7, "99.5", "1e2"],
    "stop_price": [1e-6, 9e-7, 1e7, 1.0000001e7],
    "tif": ["gtc", "Day ", "GTD"],
    "exchange": ["N" * 16, "N" * 17, "NYSE.A", "NY SE", "ny-se", "NYSÉ", ""],
    "currency": ["usd", "US1", "U$D", "USDT", "US", "ÜSD", " USD "],
    "sec_type": ["opt", "CRYPTO", "CRYPTOSS", "CRYPTOSSS", "ST K", "STK1"],
    "client_order_id": ["a" * 64, "a" * 65, "a:b.c-d_e", "a b", "é"],
    "confirm": [["o163"], "o163,o354", ["o" * 32], ["o" * 33], ["o-163"], ["o163"] * 101],
    "decline": [["o10153"], ["o163 "], ["o1\n63"]],
    "outside_rth": ["yes", "OFF", "t", 1, 0, 2, "maybe"],
    "fields": [["last"], ["LAST"], ["31"], ["lastt"], ["x" * 33], ["31"] * 50, ["31"] * 51, []],
    "max_wait": [0, 60, 60.5, -0.1, "5"],
    "max_attempts": [1, 200, 201, 0, "3", 2.0, 2.5],
    "poll_interval": [0, 5, 5.1, "0.1"],
    "filters": [["Submitted"], ["pending_submit"], "Filled,Cancelled", ["S" * 32], ["S" * 33],
                ["Filled"] * 20, ["Filled"] * 21, ["Fill ed"]],
    "include_inactive": [True, "no", 2],
}


@st.composite
def _one_argument(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An action's valid base arguments with exactly one argument set to junk (or dropped)."""
    action = draw(st.sampled_from(sorted(_ONE_ARG_BASE)))
    args = dict(_ONE_ARG_BASE[action])
    name = draw(st.sampled_from(_ONE_ARG_NAMES[action]))
    if name in args and draw(st.sampled_from([False, False, False, True])):
        del args[name]
    else:
        args[name] = draw(st.sampled_from(_EDGES[name]) if name in _EDGES and draw(st.booleans())
                          else _JUNK)
    if action == "snapshot" and name not in ("max_wait", "poll_interval", "max_attempts"):
        args["max_wait"] = 0
    return action, args


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_one_argument())
def test_generated_single_arguments(sim_warm: Simulator, scanner: SecretScanner,
                                    case: tuple[str, dict[str, Any]]) -> None:
    """One argument changed: refused exactly when the oracle refuses it, naming that argument."""
    action, args = case
    if action == "snapshot" and _number(args.get("max_wait")) not in (None, 0.0):
        args = {**args, "max_wait": 0}  # valid waits are capped to keep the run quick
    _check_any(sim_warm, scanner, action, args)
