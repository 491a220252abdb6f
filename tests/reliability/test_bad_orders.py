"""Bad-input corpus for order and quote requests: typed errors naming a field, nothing sent, no secret."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from noetl_ib_plugin.actions.contracts import clear_contract_cache
from noetl_ib_plugin.errors import (
    ContractNotFound,
    IBPluginError,
    InputError,
    LiveTradingRefused,
    OrderRejected,
    OrderUnconfirmed,
)
from noetl_ib_plugin.plugins import registry
from noetl_ib_plugin.runner import clear_clients, get_client, resolve_credential, run_action
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
    ("unknown-order-type", {"order_type": "TRAIL"}, "order_type"),
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
    ("options-sec-type", {"sec_type": "OPT"}, ContractNotFound, "symbol"),
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
         ) -> Iterator[tuple[Simulator, SecretScanner]]:
    """The module's simulator with both clients logged in once, and a scanner for every secret.

    Clients are built here (own token cache, pacing off) and reused by every test of the module,
    so the scanner knows the very tokens the calls use.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOETL_IB_CACHE_DIR", str(tmp_path_factory.mktemp("token-cache")))
        mp.setenv("NOETL_IB_PACING", "off")
        clear_clients()
        clear_contract_cache()
        sim = module_sim
        sim.reset()
        sim.set_price(AAPL, 100.0)
        scan = SecretScanner(record_secrets(sim.credentials_file))
        for cred in ("sim_oauth2", "sim_oauth1a"):
            provider = get_client(resolve_credential(cred, sim.credentials_file)).provider
            token = provider.current_token()
            scan.add(f"{cred}.token", token.value)
            for key, value in token.extra.items():
                if isinstance(value, str) and len(value) >= 8:
                    scan.add(f"{cred}.token.{key}", value)
        assert sim.keys is not None
        scan.add("sim_oauth1a.prepend", sim.keys.access_token_secret_plain.hex())
        try:
            yield sim, scan
        finally:
            clear_clients()
            clear_contract_cache()


@pytest.fixture
def sim(warm: tuple[Simulator, SecretScanner]) -> Simulator:
    """The warmed-up simulator (not reset between tests: assertions use counter deltas)."""
    return warm[0]


@pytest.fixture
def scanner(warm: tuple[Simulator, SecretScanner]) -> SecretScanner:
    """Scanner for the records' keys and secrets, both providers' tokens and the prepend."""
    return warm[1]


def _call(sim: Simulator, action: str, args: dict[str, Any]) -> tuple[IBPluginError | None,
                                                                      dict[str, Any] | None]:
    """run_action; a typed error is returned, anything else propagates (and fails the test)."""
    try:
        return None, run_action(action, CRED, credentials_file=sim.credentials_file, **args)
    except IBPluginError as exc:
        return exc, None


def _assert_validation_error(sim: Simulator, scanner: SecretScanner, action: str,
                             args: dict[str, Any], field: str) -> None:
    """A typed InputError naming `field`, no request sent, no order, no secret."""
    before = sim.stats()
    exc, result = _call(sim, action, args)
    after = sim.stats()
    assert result is None and isinstance(exc, InputError), (args, result)
    assert exc.field is not None and exc.field.split(".")[0] == field, (exc.field, str(exc))
    assert field in str(exc) and exc.to_dict()["field"] == exc.field
    assert after["requests_total"] == before["requests_total"], "validation sent a request"
    assert after["orders_accepted"] == before["orders_accepted"]
    scanner.assert_clean([str(exc), repr(exc), str(exc.to_dict())], f"{action} {args!r}")


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in PLACE_INVALID],
                         ids=[c[0] for c in PLACE_INVALID])
def test_place_order_invalid_input(sim: Simulator, scanner: SecretScanner,
                                   changes: dict[str, Any], field: str) -> None:
    """A malformed order is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim, scanner, "place_order", _args(BASE, changes), field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in CANCEL_INVALID],
                         ids=[c[0] for c in CANCEL_INVALID])
def test_cancel_order_invalid_input(sim: Simulator, scanner: SecretScanner,
                                    args: dict[str, Any], field: str) -> None:
    """A malformed cancel is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim, scanner, "cancel_order", args, field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in SNAPSHOT_INVALID],
                         ids=[c[0] for c in SNAPSHOT_INVALID])
def test_snapshot_invalid_input(sim: Simulator, scanner: SecretScanner,
                                args: dict[str, Any], field: str) -> None:
    """A malformed quote request is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim, scanner, "snapshot", {"max_wait": 0.5, **args}, field)


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in OPEN_ORDERS_INVALID],
                         ids=[c[0] for c in OPEN_ORDERS_INVALID])
def test_get_open_orders_invalid_input(sim: Simulator, scanner: SecretScanner,
                                       args: dict[str, Any], field: str) -> None:
    """A malformed open-orders filter is an InputError naming its field, raised before any request."""
    _assert_validation_error(sim, scanner, "get_open_orders", args, field)


@pytest.mark.parametrize(("changes", "error", "field"), [c[1:] for c in PLACE_REFUSED],
                         ids=[c[0] for c in PLACE_REFUSED])
def test_place_order_refused_without_an_order(sim: Simulator, scanner: SecretScanner,
                                              changes: dict[str, Any], error: type[IBPluginError],
                                              field: str | None) -> None:
    """Well-formed but impossible orders end in a typed error and leave the book untouched."""
    before = sim.stats()["orders_accepted"]
    exc, result = _call(sim, "place_order", _args(BASE, changes))
    assert result is None and isinstance(exc, error), (exc, result)
    if field is not None:
        assert exc.field == field and field in str(exc)
    assert sim.stats()["orders_accepted"] == before
    scanner.assert_clean([str(exc), repr(exc)], f"place_order {changes!r}")


@pytest.mark.parametrize("order_id", ["424242", 9 * 10**18, "9" * 19], ids=["unknown", "huge", "long"])
def test_cancel_unknown_order_names_order_id(sim: Simulator, scanner: SecretScanner,
                                             order_id: Any) -> None:
    """Cancelling an id the broker does not know is a BrokerError naming order_id."""
    before = sim.stats()["orders_cancelled"]
    exc, _ = _call(sim, "cancel_order", {"order_id": order_id})
    assert exc is not None and exc.category == "broker" and exc.field == "order_id"
    assert sim.stats()["orders_cancelled"] == before
    scanner.assert_clean([str(exc), repr(exc)], "cancel_order")


def test_valid_baseline_order_is_placed_once(sim: Simulator, scanner: SecretScanner) -> None:
    """The corpus' BASE order really is valid: it rests in the book exactly once."""
    exc, result = _call(sim, "place_order", {**BASE, "client_order_id": "corpus-base-1"})
    assert exc is None and result is not None
    assert [o["order_id"] for o in sim.orders() if o["cOID"] == "corpus-base-1"] == [
        int(result["order_id"])
    ]
    scanner.assert_clean([repr(result)], "place_order result")


def test_corpus_is_large_enough() -> None:
    """The hand-written corpus keeps at least 30 order cases and covers all three actions."""
    assert len(PLACE_INVALID) + len(PLACE_REFUSED) >= 30
    assert len(CANCEL_INVALID) >= 10 and len(SNAPSHOT_INVALID) >= 15


# -- generated inputs ----------------------------------------------------------------------------

_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(["../../etc/passwd", "AAPL'; DROP TABLE--", "DU1234567/..", "\x00", "²",
                     "1e3", "Infinity", "-0", " ", "o163,,o383", "📈"]),
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
#: Keys a corruption may hit besides the action's own (unknown arguments).
_STRANGERS = ["bogus", "qty", "Symbol"]


@st.composite
def _mutated(draw: st.DrawFn, shape: tuple[dict[str, st.SearchStrategy[Any]],
                                           dict[str, st.SearchStrategy[Any]]],
             priced: bool = False) -> dict[str, Any]:
    """A plausible argument dict, then 0-3 keys replaced by junk or dropped (none in 1/3)."""
    required, optional = shape
    args: dict[str, Any] = draw(st.fixed_dictionaries(required, optional=optional))
    if priced:
        args.update(draw(_PRICED))
    keys = sorted({*required, *optional, *args, *_STRANGERS})
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
}


def _check_any(sim: Simulator, scanner: SecretScanner, action: str, args: dict[str, Any]) -> None:
    """Invalid: InputError naming a field, nothing sent. Valid: a result or a typed error. No secret."""
    try:
        registry().actions[action].input_model.model_validate(args)
        valid = True
    except ValidationError:
        valid = False
    before = sim.stats()
    exc, result = _call(sim, action, args)
    after = sim.stats()
    event(f"{action}: {'valid' if valid else 'invalid'} -> {type(exc).__name__ if exc else 'ok'}")
    if not valid:
        assert isinstance(exc, InputError) and exc.field, (args, exc, result)
        assert exc.field.split(".")[0] in str(exc)
        assert after["requests_total"] == before["requests_total"], "validation sent a request"
    if exc is None:
        assert isinstance(result, dict)
        scanner.assert_clean([repr(result)], f"{action} result")
        return
    scanner.assert_clean([str(exc), repr(exc), str(exc.to_dict())], f"{action} {args!r}")
    assert str(exc) and exc.category in ("input", "auth", "broker", "transient")
    if not isinstance(exc, OrderUnconfirmed):
        assert after["orders_accepted"] == before["orders_accepted"], (action, args, exc)


_EXAMPLES = settings(max_examples=80, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@_EXAMPLES
@given(args=_ACTION_ARGS["place_order"])
def test_generated_place_order_inputs(sim: Simulator, scanner: SecretScanner,
                                      args: dict[str, Any]) -> None:
    """Random place_order arguments: a typed error naming a field, or a real order; never a crash."""
    _check_any(sim, scanner, "place_order", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["snapshot"])
def test_generated_snapshot_inputs(sim: Simulator, scanner: SecretScanner,
                                   args: dict[str, Any]) -> None:
    """Random snapshot arguments: a typed error naming a field, or quotes; never a crash."""
    _check_any(sim, scanner, "snapshot", args)


@_EXAMPLES
@given(args=_ACTION_ARGS["cancel_order"])
def test_generated_cancel_order_inputs(sim: Simulator, scanner: SecretScanner,
                                       args: dict[str, Any]) -> None:
    """Random cancel_order arguments: a typed error naming a field, or an acknowledgement."""
    if args.get("order_id") == REAL_ORDER:
        placed = run_action("place_order", CRED, credentials_file=sim.credentials_file, **BASE)
        args = {**args, "order_id": placed["order_id"]}
    _check_any(sim, scanner, "cancel_order", args)
