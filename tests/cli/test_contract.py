"""The `noetl-ib` output contract: one JSON object on stdout, JSON errors on stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin import runner
from noetl_ib_plugin.cli import main
from noetl_ib_plugin.cli._io import parse_assignments, parse_value, redact
from noetl_ib_plugin.cli._run import collect_args, tell_waits
from noetl_ib_plugin.errors import (
    AuthError,
    BrokerError,
    CredentialNotFound,
    InputError,
    OrderRejected,
    RateLimited,
    TransientError,
    UsageError,
)
from noetl_ib_plugin.simulator import Simulator

from .helpers import cached_secrets, cli, one_json, process_env, record_secrets


def _stderr_error(stderr: str) -> dict[str, Any]:
    """The last stderr line is the JSON error object."""
    last = stderr.strip().splitlines()[-1]
    payload = json.loads(last)
    assert set(payload) == {"error"}
    error = payload["error"]
    assert isinstance(error, dict)
    return error


class _Capture:
    """Records what the CLI handed to the runner (run_action_typed)."""

    def __init__(self, result: dict[str, Any] | None = None, exc: BaseException | None = None) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self.result = result or {"ok": True}
        self.exc = exc

    def __call__(self, name: str, credential: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((name, credential, kwargs))
        if self.exc is not None:
            raise self.exc
        return self.result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ("[1,2]", [1, 2]),
        ('{"a":1}', {"a": 1}),
        ("AAPL", "AAPL"),
        ('"123"', "123"),
        ("NaN", "NaN"),
        ("o163,o354", "o163,o354"),
        ("", ""),
    ],
)
def test_key_value_values_parse_as_json_when_they_can(text: str, expected: Any) -> None:
    """Values are JSON when they parse (numbers, booleans, lists), else plain strings."""
    assert parse_value(text) == expected


def test_assignments_need_key_equals_value() -> None:
    """A word without '=' or with a non-identifier key is a usage error, not a silent string."""
    assert parse_assignments(["quantity=1", "symbol=AAPL", "note=a=b"]) == {
        "quantity": 1,
        "symbol": "AAPL",
        "note": "a=b",
    }
    with pytest.raises(Exception, match="not key=value"):
        parse_assignments(["AAPL"])
    with pytest.raises(Exception, match="not an identifier"):
        parse_assignments(["1x=2"])


@pytest.mark.parametrize(("words", "args_json", "field", "says"), [
    (["=1"], None, "=1", "has an empty name"),
    (["  =1"], None, "  =1", "has an empty name"),
    (["quantity=1", "quantity=100"], None, "quantity", "is given twice"),
    ([], '{"": 1}', "--args-json key ''", "has an empty name"),
    ([], '{"limit price": 1}', "limit price", "not an identifier"),
])
def test_argument_names_are_checked_and_named(
    words: list[str], args_json: str | None, field: str, says: str
) -> None:
    """`get_positions =1` and its kin: a usage error naming the word (or key) and a fix."""
    with pytest.raises(UsageError) as info:
        collect_args(args_json, words)
    assert info.value.field == field
    assert says in info.value.message and "e.g." in info.value.message


def test_run_with_an_empty_argument_name_exits_2_naming_it() -> None:
    """`noetl-ib run get_positions =1` exits 2 and its error names '=1' and how to write it."""
    done = cli("run", "get_positions", "-c", "x", "=1")
    error = json.loads(done.stderr.splitlines()[-1])["error"]
    assert (done.returncode, error["field"]) == (2, "=1")
    assert "e.g. quantity=1" in error["message"]


def test_args_json_is_merged_and_words_win() -> None:
    """--args-json gives the base arguments; key=value words override them."""
    assert collect_args('{"quantity": 5, "side": "BUY"}', ["quantity=2"]) == {"quantity": 2, "side": "BUY"}
    with pytest.raises(Exception, match="JSON object"):
        collect_args("[1]", [])


def test_run_passes_options_and_intermixed_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """key=value words may sit between options; options reach the runner, the result reaches stdout."""
    fake = _Capture({"order_id": "1"})
    monkeypatch.setattr(runner, "run_action_typed", fake)
    code = main(
        ["run", "place_order", "side=BUY", "--credential", "ib", "quantity=2", "--allow-live",
         "--credentials-file", "/x.json", "--args-json", '{"symbol": "AAPL", "quantity": 9}']
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert one_json(out) == {"order_id": "1"}
    assert fake.calls == [
        ("place_order", "ib", {"credentials_file": "/x.json", "allow_live": True,
                               "progress": tell_waits, "symbol": "AAPL", "quantity": 2,
                               "side": "BUY"}),
    ]


@pytest.mark.parametrize(
    ("exc", "code", "category"),
    [
        (InputError("bad quantity", field="quantity"), 2, "input"),
        (CredentialNotFound("nope", ["file 'x'"]), 2, "input"),
        (AuthError("invalid client assertion", status=401), 3, "auth"),
        (BrokerError("OrderID 1 doesn't exist", status=200), 4, "broker"),
        (OrderRejected("limit price rejected"), 4, "broker"),
        (TransientError("IBKR answered 503", status=503), 5, "transient"),
        (RateLimited("429 past the retry budget"), 5, "transient"),
    ],
)
def test_errors_map_to_exit_codes_by_category(
    exc: Exception,
    code: int,
    category: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each error category has its own exit code and a JSON error on stderr; stdout stays empty."""
    monkeypatch.setattr(runner, "run_action_typed", _Capture(exc=exc))
    assert main(["run", "get_positions", "--credential", "ib"]) == code
    out, err = capsys.readouterr()
    assert out == ""
    error = _stderr_error(err)
    assert error["type"] == type(exc).__name__
    assert error["category"] == category
    assert error["message"]


def test_unexpected_error_is_exit_1_without_traceback_unless_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug gives exit 1 and a generic message; -v adds the traceback for debugging."""
    monkeypatch.setattr(runner, "run_action_typed", _Capture(exc=ZeroDivisionError("boom")))
    assert main(["run", "get_positions", "--credential", "ib"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert _stderr_error(err)["type"] == "UnexpectedError"
    assert main(["-v", "run", "get_positions", "--credential", "ib"]) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        [],
        ["run", "get_positions"],
        ["run", "get_positions", "--credential", "ib", "symbol"],
        ["run", "get_positions", "--credential", "ib", "--args-json", "{"],
        ["run", "get_positions", "--credential", "ib", "credential=other"],
        ["credentials"],
    ],
)
def test_usage_errors_are_json_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad command lines never print argparse usage on stdout: JSON on stderr, exit 2."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert _stderr_error(err)["category"] == "input"


def test_unknown_action_is_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown action name is exit 2 and the message lists the real actions."""
    assert main(["run", "buy_everything", "--credential", "ib"]) == 2
    error = _stderr_error(capsys.readouterr().err)
    assert "place_order" in error["message"]


def test_error_log_keeps_the_reason_noetl_discards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """NOETL_IB_ERROR_LOG gets one JSON line per failure (NoETL drops a failing step's stderr)."""
    log = tmp_path / "errors.jsonl"
    monkeypatch.setenv("NOETL_IB_ERROR_LOG", str(log))
    monkeypatch.setattr(runner, "run_action_typed", _Capture(exc=AuthError("revoked", status=401)))
    assert main(["run", "get_positions", "--credential", "ib", "account_id=DU1"]) == 3
    capsys.readouterr()
    entry = json.loads(log.read_text().strip())
    assert entry["exit_code"] == 3
    assert entry["command"] == "run get_positions"
    assert entry["error"]["type"] == "AuthError"


def test_redaction_masks_secret_shapes() -> None:
    """Log redaction masks PEMs, JWTs, bearer headers and key=value secrets, not prose."""
    text = (
        "Authorization: Bearer abcdefghijklmnop0123 jwt eyJhbGciOi.eyJzdWIi.sig "
        "oauth_signature=\"c2lnbmF0dXJl\" -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- "
        "only OAuth 2.0 bearers can be exported"
    )
    masked = redact(text)
    for secret in ("abcdefghijklmnop0123", "eyJhbGciOi", "c2lnbmF0dXJl", "MIIB"):
        assert secret not in masked
    assert "only OAuth 2.0 bearers can be exported" in masked


def test_run_against_simulator_prints_one_json_object(sim_env: Simulator) -> None:
    """A real `noetl-ib run` process prints one JSON object and nothing else on stdout."""
    proc = cli("run", "get_positions", "--credential", "sim_oauth2")
    assert proc.returncode == 0, proc.stderr
    result = one_json(proc.stdout)
    assert result["count"] == len(result["positions"]) > 0
    assert "error" not in proc.stderr


def test_broker_rejection_exits_4(sim_env: Simulator) -> None:
    """Cancelling an order IBKR does not know is a broker rejection: exit 4, IBKR's words on stderr."""
    proc = cli("run", "cancel_order", "--credential", "sim_oauth2", "order_id=1")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == ""
    assert "doesn't exist" in _stderr_error(proc.stderr)["message"]


def test_auth_failure_exits_3(sim_env: Simulator, tmp_path: Path) -> None:
    """A client id IBKR does not know fails authentication: exit 3."""
    payload = json.loads(sim_env.credentials_file.read_text())
    record = next(r for r in payload["credentials"] if r["name"] == "sim_oauth2")
    record["data"]["client_id"] = "unknown-client"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    proc = cli("run", "get_positions", "--credential", "sim_oauth2", "--credentials-file", str(bad))
    assert proc.returncode == 3, proc.stderr
    assert _stderr_error(proc.stderr)["category"] == "auth"


def test_stray_prints_never_reach_stdout(tmp_path: Path) -> None:
    """Anything a library prints (Python or C level) goes to stderr; stdout holds only the result."""
    script = (
        "import os, sys\n"
        "from noetl_ib_plugin import runner\n"
        "def noisy(name, credential, **kw):\n"
        "    print('python-noise')\n"
        "    os.write(1, b'c-level-noise\\n')\n"
        "    return {'ok': True}\n"
        "runner.run_action_typed = noisy\n"
        "from noetl_ib_plugin.cli import main\n"
        "sys.exit(main(['run', 'get_positions', '--credential', 'x']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=process_env(), check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert one_json(proc.stdout) == {"ok": True}
    assert "python-noise" in proc.stderr
    assert "c-level-noise" in proc.stderr


@pytest.mark.slow
def test_debug_logs_never_print_secrets(sim_env: Simulator, tmp_path: Path) -> None:
    """At DEBUG, neither private keys nor tokens nor the LST appear in stdout or stderr."""
    env = process_env(NOETL_IB_LOG_LEVEL="DEBUG")
    outputs: list[str] = []
    for credential in ("sim_oauth2", "sim_oauth1a"):
        for argv in (
            ["run", "get_positions", "--credential", credential],
            ["-v", "run", "snapshot", "--credential", credential, "symbols=AAPL"],
            ["token", "--credential", credential, "-v"],
        ):
            proc = cli(*argv, env=env)
            assert proc.returncode == 0, proc.stderr
            outputs.append(proc.stdout + proc.stderr)
    alias = cli("token", "--credential", "sim_oauth2", "--export-alias", "ib_dbg", "-v", env=env)
    assert alias.returncode == 0, alias.stderr
    outputs.append(alias.stdout + alias.stderr)
    text = "\n".join(outputs)
    assert "DEBUG" in text  # the level really was raised
    secrets = record_secrets(sim_env.credentials_file) + cached_secrets(tmp_path / "token-cache")
    assert len(cached_secrets(tmp_path / "token-cache")) >= 3  # bearer, access token, LST
    leaked = [s[:12] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets printed: {leaked}"


def test_cli_import_is_light() -> None:
    """Cold start: importing the CLI pulls in neither pydantic, requests nor cryptography."""
    code = (
        "import sys, noetl_ib_plugin.cli\n"
        "print([m for m in ('pydantic', 'requests', 'cryptography', 'jwt', 'pluggy') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
