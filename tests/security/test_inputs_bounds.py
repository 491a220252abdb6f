"""Every input has a bound and a character set; refusals are typed and name the field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.cli._io import parse_assignments
from noetl_ib_plugin.cli._run import collect_args
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.errors import CredentialError, InputError, UsageError
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator

CLI = Path(sys.executable).parent / "noetl-ib"
ORDER: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                         "limit_price": 99.0}

#: (id, action, arguments, field the InputError must name) -- the issue's failing inputs.
FAILING_INPUTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("name-kwarg", "get_positions", {"name": "x"}, "name"),
    ("quantity-1e-300", "place_order", {**ORDER, "quantity": 1e-300}, "quantity"),
    ("quantity-1e308", "place_order", {**ORDER, "quantity": 1e308}, "quantity"),
    ("limit-1e308", "place_order", {**ORDER, "limit_price": 1e308}, "limit_price"),
    ("stop-1e308", "place_order", {**ORDER, "order_type": "STOP_LIMIT", "stop_price": 1e308},
     "stop_price"),
    ("sec-type-20k-escapes", "place_order",
     {**ORDER, "sec_type": "STK\\u001b[2J\x1b[2J" + "\\x00" * 5000}, "sec_type"),
    ("exchange-control", "place_order", {**ORDER, "exchange": "NY\r\nSE"}, "exchange"),
    ("currency-control", "place_order", {**ORDER, "currency": "U\x00D"}, "currency"),
    ("snapshot-exchange-control", "snapshot", {"symbols": ["AAPL"], "exchange": "\x1bNYSE"},
     "exchange"),
    ("filters-control", "get_open_orders", {"filters": ["Submitted\x07"]}, "filters.0"),
    ("order-id-arabic-digits", "cancel_order", {"order_id": "\u0661\u0662\u0663"}, "order_id"),
    ("order-id-devanagari-digits", "cancel_order", {"order_id": "\u0967\u0968"}, "order_id"),
    ("symbol-rtl-override", "place_order", {**ORDER, "symbol": "AA\u202ePL"}, "symbol"),
    ("symbols-rtl-override", "snapshot", {"symbols": ["\u202eLPAA"]}, "symbols.0"),
    ("symbol-zero-width", "place_order", {**ORDER, "symbol": "AA\u200bPL"}, "symbol"),
]


@pytest.mark.parametrize(("action", "args", "field"), [c[1:] for c in FAILING_INPUTS],
                         ids=[c[0] for c in FAILING_INPUTS])
def test_failing_inputs_are_typed_errors_naming_the_field(sim_reset: Simulator, action: str,
                                                         args: dict[str, Any], field: str) -> None:
    """Each input the issue lists is an InputError naming its field, and nothing reaches IBKR."""
    before = sim_reset.stats()["requests_total"]
    with pytest.raises(InputError) as info:
        run_action(action, "sim_oauth2", credentials_file=sim_reset.credentials_file, **args)
    assert info.value.field == field and field in str(info.value)
    assert sim_reset.stats()["requests_total"] == before
    assert "\x1b" not in str(info.value) and "\u202e" not in str(info.value)


def test_name_is_positional_so_name_kwarg_never_type_errors(sim_reset: Simulator) -> None:
    """`run_action(action, cred, name=...)` validates `name` as an argument instead of clashing."""
    with pytest.raises(InputError) as info:
        run_action("snapshot", "sim_oauth2", credentials_file=sim_reset.credentials_file,
                   symbols=["AAPL"], name="AAPL")
    assert info.value.field == "name" and "is not an input of this action" in str(info.value)


@pytest.mark.parametrize("depth", [33, 1000, 50_000])
def test_args_json_nested_deep_is_a_usage_error(depth: int) -> None:
    """`--args-json` and key=value JSON nested past 32 levels are usage errors, never RecursionError."""
    deep = "[" * depth + "]" * depth
    with pytest.raises(UsageError) as info:
        collect_args('{"symbols": ' + deep + "}", [])
    assert info.value.field == "args_json" and "32 levels" in info.value.message
    with pytest.raises(UsageError) as info:
        parse_assignments([f"symbols={deep}"])
    assert info.value.field == "symbols"


def test_args_json_at_the_depth_bound_still_parses() -> None:
    """32 levels (far beyond any action's needs) still parse, so the bound refuses only abuse."""
    deep = "[" * 31 + "]" * 31
    assert collect_args('{"symbols": ' + deep + "}", [])["symbols"] is not None


def test_cli_args_json_50k_deep_exits_2(tmp_path: Path) -> None:
    """The real CLI given 50k-deep --args-json exits 2 with a JSON usage error, not a traceback."""
    deep = "{" + '"a":' * 1 + "[" * 50_000 + "]" * 50_000 + "}"
    proc = subprocess.run([str(CLI), "run", "snapshot", "-c", "nope", "--args-json", deep],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "NOETL_IB_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stderr[-300:]
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert error["field"] == "args_json" and "Traceback" not in proc.stderr


_OAUTH2: dict[str, Any] = {"name": "ib", "type": "interactive_brokers_oauth",
           "data": {"client_id": "cid", "key_id": "kid", "private_key_path": "/k.pem",
                    "credential": "user"}}
_OAUTH1A: dict[str, Any] = {"name": "ib1", "type": "interactive_brokers_oauth1a",
            "data": {"consumer_key": "ABCDEFGHI", "access_token": "tok0123456789",
                     "access_token_secret": "c2VjcmV0", "signature_key_path": "/s.pem",
                     "encryption_key_path": "/e.pem", "dh_prime": "ff" * 256}}

#: (id, base record, field -> bad value, exact field the CredentialError names).
CREDENTIAL_BOUNDS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("client-id-20k", _OAUTH2, {"client_id": "c" * 20_000}, "data.client_id"),
    ("client-id-newline", _OAUTH2, {"client_id": "cid\nX: 1"}, "data.client_id"),
    ("key-id-rtl", _OAUTH2, {"key_id": "k\u202eid"}, "data.key_id"),
    ("username-space", _OAUTH2, {"credential": "user name"}, "data.credential"),
    ("ip-not-an-ip", _OAUTH2, {"ip": "1.2.3.4; rm -rf /"}, "data.ip"),
    ("service-control", _OAUTH2, {"service": "AM_LOGIN\x00"}, "data.service"),
    ("scope-20k", _OAUTH2, {"scope": "s" * 20_000}, "data.scope"),
    ("private-key-1mb", _OAUTH2, {"private_key_path": None, "private_key": "x" * (1 << 20)},
     "data.private_key"),
    ("key-path-nul", _OAUTH2, {"private_key_path": "/k.pem\x00.txt"}, "data.private_key_path"),
    ("key-and-path", _OAUTH2, {"private_key": "-----BEGIN"}, "data.private_key_path"),
    ("no-key", _OAUTH2, {"private_key_path": None}, "data.private_key"),
    ("consumer-key-unicode", _OAUTH1A, {"consumer_key": "ABCDEFGH\u0130"}, "data.consumer_key"),
    ("access-token-newline", _OAUTH1A, {"access_token": "tok\r\nX-Evil: 1"}, "data.access_token"),
    ("access-token-20k", _OAUTH1A, {"access_token": "t" * 20_000}, "data.access_token"),
    ("secret-space", _OAUTH1A, {"access_token_secret": "c2Vj cmV0"}, "data.access_token_secret"),
    ("realm-injection", _OAUTH1A, {"realm": 'x", oauth_token="y'}, "data.realm"),
    ("dh-prime-1mb", _OAUTH1A, {"dh_prime": "f" * (1 << 20)}, "data.dh_prime"),
    ("no-signature-key", _OAUTH1A, {"signature_key_path": None}, "data.signature_key"),
    # "DU1/../U7654321" passed the paper guard (DU prefix) while its URL reached U7654321
    ("account-id-traversal", _OAUTH2, {"account_id": "DU1/../U7654321"}, "data.account_id"),
    ("account-id-traversal-1a", _OAUTH1A, {"account_id": "DU1/../../etc"}, "data.account_id"),
    ("account-id-query", _OAUTH2, {"account_id": "DU1?x=1"}, "data.account_id"),
    ("account-id-40", _OAUTH2, {"account_id": "DU" + "1" * 38}, "data.account_id"),
]


@pytest.mark.parametrize(("base", "changes", "field"), [c[1:] for c in CREDENTIAL_BOUNDS],
                         ids=[c[0] for c in CREDENTIAL_BOUNDS])
def test_credential_fields_are_bounded(base: dict[str, Any], changes: dict[str, Any],
                                       field: str) -> None:
    """Oversized or odd-character credential fields are CredentialErrors naming the exact field."""
    raw = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            raw["data"].pop(key, None)
        else:
            raw["data"][key] = value
    with pytest.raises(CredentialError) as info:
        parse_record(raw)
    assert info.value.field == field
    for value in changes.values():
        if isinstance(value, str) and len(value) > 12:
            assert value not in str(info.value)


def test_credential_bounds_accept_real_values() -> None:
    """Realistic values (IPv6, scope with a space, dhparam text with newlines) still parse."""
    raw = copy.deepcopy(_OAUTH2)
    raw["data"].update(ip="2001:db8::7", service="AM_LOGIN", scope="sso-sessions.write openid",
                       account_id="DU1234567")
    assert parse_record(raw).data.ip == "2001:db8::7"  # type: ignore[attr-defined]
    raw1 = copy.deepcopy(_OAUTH1A)
    raw1["data"]["dh_prime"] = "00:ff:" + ":\n    ".join(["ff"] * 256)
    assert parse_record(raw1).data.dh_parameters()[0] > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("target", ["/dev/zero", "big"])
@pytest.mark.parametrize(("base", "path_field", "load", "field"), [
    (_OAUTH2, "private_key_path", "rsa_key", "data.private_key_path"),
    (_OAUTH1A, "signature_key_path", "signature_rsa_key", "data.signature_key_path"),
    (_OAUTH1A, "dh_prime", "dh_parameters", "data.dh_prime"),
], ids=["oauth2-key", "oauth1a-signature", "oauth1a-dhparam"])
def test_key_file_reads_are_bounded(tmp_path: Path, target: str, base: dict[str, Any],
                                    path_field: str, load: str, field: str) -> None:
    """A key path naming /dev/zero or a 1 MB file is a CredentialError naming the field, not a hang."""
    expected = "larger than" if target == "big" else "not a regular file"
    if target == "big":
        big = tmp_path / "big.pem"
        big.write_text("-----BEGIN PRIVATE KEY-----\n" + "A" * (1 << 20))
        target = str(big)
    raw = copy.deepcopy(base)
    raw["data"][path_field] = target
    data = parse_record(raw).data
    assert len(data.secret_digest()) == 64  # the cache fingerprint reads the file too
    with pytest.raises(CredentialError) as info:
        getattr(data, load)()
    assert info.value.field == field
    assert expected in str(info.value)


@pytest.mark.parametrize("target", ["/dev/zero", "big"])
def test_credentials_file_read_is_bounded(tmp_path: Path, target: str) -> None:
    """--credentials-file /dev/zero (or a 5 MB file) is an input error naming credentials_file."""
    expected = "larger than" if target == "big" else "not a regular file"
    if target == "big":
        big = tmp_path / "big.json"
        big.write_text("[" + " " * (5 << 20) + "]")
        target = str(big)
    with pytest.raises(CredentialError) as info:
        run_action("get_positions", "x", credentials_file=target)
    assert info.value.field == "credentials_file" and expected in str(info.value)
