"""Secret canary: a full DEBUG-logged session never shows a key, token, LST, secret or prepend."""

from __future__ import annotations

import copy
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from noetl_ib_plugin.auth.base import Token
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.client import IBClient
from noetl_ib_plugin.errors import AuthError, IBPluginError, InputError, OrderRejected
from noetl_ib_plugin.runner import get_client, resolve_credential, run_action
from noetl_ib_plugin.simulator import Simulator
from tests.reliability.canary import SecretScanner, record_secrets

AAPL = 265598
CREDS = ("sim_oauth2", "sim_oauth1a")
#: The field of each record whose key signs requests (the one a wrong key replaces).
SIGNING_KEY = {"sim_oauth2": "private_key", "sim_oauth1a": "signature_key"}
CLI = Path(sys.executable).parent / "noetl-ib"


class Session:
    """Everything a session produced that could carry a secret: objects, results, errors."""

    def __init__(self, sim_reset: Simulator) -> None:
        self.sim = sim_reset
        self.objects: list[Any] = []
        self.results: list[dict[str, Any]] = []
        self.errors: list[IBPluginError] = []
        self.tokens: list[Token] = []

    def client(self, cred: str) -> IBClient:
        """The runner's cached client for one of the simulator's records."""
        record = resolve_credential(cred, self.sim.credentials_file)
        client = get_client(record)
        self.objects += [record, record.data, client, client.provider]
        return client

    def remember_token(self, cred: str) -> None:
        """Keep the provider's current token (bearer or LST) so the canary knows its value."""
        token = self.client(cred).provider.current_token()
        self.tokens.append(token)
        self.objects.append(token)

    def run(self, cred: str | dict[str, Any], action: str, **args: Any) -> dict[str, Any] | None:
        """run_action; typed errors are kept (other exceptions fail the test)."""
        try:
            out = run_action(action, cred, credentials_file=self.sim.credentials_file, **args)
        except IBPluginError as exc:
            self.errors.append(exc)
            return None
        self.results.append(out)
        return out


def _scanner(sim_reset: Simulator, session: Session, extra: dict[str, str]) -> SecretScanner:
    """Watch the records' secrets, every token seen (and its extras) and the prepend."""
    scan = SecretScanner({**record_secrets(sim_reset.credentials_file), **extra})
    for i, token in enumerate(session.tokens):
        scan.add(f"{token.scheme}.token[{i}]", token.value)
        for key, value in token.extra.items():
            if isinstance(value, str) and len(value) >= 8:
                scan.add(f"{token.scheme}.token[{i}].{key}", value)
    assert sim_reset.keys is not None
    scan.add("oauth1a.prepend", sim_reset.keys.access_token_secret_plain.hex())
    return scan


def _wrong_key_record(sim_reset: Simulator, cred: str, pem: str) -> dict[str, Any]:
    """The simulator's record with its signing key swapped for an unregistered one."""
    records = json.loads(sim_reset.credentials_file.read_text())["credentials"]
    record: dict[str, Any] = copy.deepcopy(next(r for r in records if r["name"] == cred))
    record["name"] = f"{cred}_wrong_key"
    record["data"][SIGNING_KEY[cred]] = pem
    return record


def _everything(sim_reset: Simulator, session: Session, rsa_pem: str, tmp: Path) -> None:
    """The realistic session: tokens, every action, questions, 401, faults, bad input, bad key."""
    sim_reset.set_price(AAPL, 100.0)
    for n, cred in enumerate(CREDS):
        session.remember_token(cred)
        for action in ("account_summary", "get_positions", "get_open_orders"):
            assert session.run(cred, action) is not None
        assert session.run(cred, "snapshot", symbols=["AAPL", "IBM"], poll_interval=0.05,
                           max_wait=2) is not None
        placed = session.run(cred, "place_order", symbol="AAPL", side="BUY", quantity=1,
                             order_type="LMT", limit_price=99.0, client_order_id=f"canary-{n}-a")
        assert placed is not None
        assert session.run(cred, "cancel_order", order_id=placed["order_id"]) is not None
        # A question the caller confirmed (o163: 5% away from the last price) ...
        confirmed = session.run(cred, "place_order", symbol="AAPL", side="BUY", quantity=1,
                                order_type="LMT", limit_price=95.0, confirm=["o163"])
        assert confirmed is not None and confirmed["confirmed_message_ids"] == ["o163"]
        # ... and the same question declined by the default policy.
        assert session.run(cred, "place_order", symbol="AAPL", side="BUY", quantity=1,
                           order_type="LMT", limit_price=95.0) is None
        assert isinstance(session.errors[-1], OrderRejected)
        # 401: every token revoked at the broker, the client refreshes once and goes on.
        sim_reset.revoke_all()
        assert session.run(cred, "get_positions") is not None
        session.remember_token(cred)
        # Faults: a lost answer to the order POST is reconciled; reads retry through 500s.
        sim_reset.set_faults({"seed": 3, "reset_after": 1.0, "methods": ["POST"],
                        "paths": ["/v1/api/iserver/account/DU"]})
        reconciled = session.run(cred, "place_order", symbol="AAPL", side="SELL", quantity=1,
                                 order_type="LMT", limit_price=101.0,
                                 client_order_id=f"canary-{n}-b")
        assert reconciled is not None and reconciled["reconciled"] is True
        sim_reset.set_faults({"seed": 4, "http_500": 0.5, "methods": ["GET"]})
        for _ in range(3):
            session.run(cred, "account_summary")
        sim_reset.set_faults({})
        session.remember_token(cred)
        # Bad input, then a record whose signing key the broker does not know.
        assert session.run(cred, "place_order", symbol="AAPL", side="BUY", quantity=-1) is None
        assert isinstance(session.errors[-1], InputError)
        wrong = _wrong_key_record(sim_reset, cred, rsa_pem)
        # Its own token cache: the cache is keyed by public identity, which the wrong record shares.
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("NOETL_IB_CACHE_DIR", str(tmp / f"wrong-key-cache-{n}"))
            assert session.run(wrong, "get_positions") is None
        assert isinstance(session.errors[-1], AuthError), session.errors[-1]
        session.objects.append(resolve_credential(wrong))
    stats = sim_reset.stats()
    assert stats["faults_injected"].get("http_500", 0) > 0 and stats["questions_asked"] >= 4
    assert stats["auth_failures"] >= 2


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Formatted log text plus every record's message, args and traceback text."""
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    return texts


def test_session_leaks_no_secret(sim_reset: Simulator, caplog: pytest.LogCaptureFixture,
                                 capfd: pytest.CaptureFixture[str], rsa_pem: str,
                                 tmp_path: Path) -> None:
    """DEBUG logs, output, errors and reprs of a full two-scheme session hold no secret."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    session = Session(sim_reset)
    _everything(sim_reset, session, rsa_pem, tmp_path)
    provider = session.client("sim_oauth1a").provider
    assert isinstance(provider, LiveSessionTokenProvider)
    assert sim_reset.keys is not None
    assert provider._decrypted_prepend() == sim_reset.keys.access_token_secret_plain.hex()
    scan = _scanner(sim_reset, session, {"wrong_key": rsa_pem})
    assert len(session.tokens) >= 6 and len({t.value for t in session.tokens}) >= 4
    # The canary itself works: each kind of secret is found when it is there.
    assert scan.leaks(rsa_pem[200:260]) == ["wrong_key"]
    assert scan.leaks(f"x{session.tokens[-1].value}x")
    assert scan.leaks(sim_reset.keys.access_token_secret_plain.hex()) == ["oauth1a.prepend"]
    captured = capfd.readouterr()
    assert len(caplog.records) > 50
    debug_from = {r.name for r in caplog.records if r.levelname == "DEBUG"}
    assert {"noetl_ib_plugin.auth.oauth2", "noetl_ib_plugin.auth.oauth1a",
            "urllib3.connectionpool"} <= debug_from, debug_from
    scan.assert_clean(_log_texts(caplog), "logs")
    scan.assert_clean([captured.out, captured.err], "stdout/stderr")
    scan.assert_clean([t for e in session.errors for t in (str(e), repr(e), str(e.to_dict()),
                                                           repr(e.__cause__), repr(e.__context__))],
                      "exceptions")
    scan.assert_clean([t for o in session.objects for t in (repr(o), str(o))], "reprs")
    scan.assert_clean([json.dumps(r) for r in session.results], "results")


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI with DEBUG logs."""
    return subprocess.run([str(CLI), *args, "-v"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _cached_tokens(cache: Path) -> dict[str, str]:
    """Token values (and extras) in the cache files right now, labelled by file and key."""
    out: dict[str, str] = {}
    for path in cache.glob("*.json"):
        entry = json.loads(path.read_text())
        if not isinstance(entry, dict):
            continue
        for key, value in [("value", entry.get("value")), *(entry.get("extra") or {}).items()]:
            if isinstance(value, str) and len(value) >= 8:
                out[value] = f"{path.name}:{key}"
    return out


def test_cli_leaks_no_secret(sim_reset: Simulator, tmp_path: Path) -> None:
    """`noetl-ib run/token -v` at DEBUG prints no secret; cache files are 600 with secret-free names."""
    cache = tmp_path / "cli-cache"
    env = {**os.environ, "NOETL_IB_CACHE_DIR": str(cache), "NOETL_IB_LOG_LEVEL": "DEBUG",
           "NOETL_IB_PACING": "off"}
    file_args = ["--credentials-file", str(sim_reset.credentials_file)]
    sim_reset.set_price(AAPL, 100.0)
    outputs: list[subprocess.CompletedProcess[str]] = []
    tokens: dict[str, str] = {}
    for cred in CREDS:
        outputs.append(_cli(["run", "get_positions", "-c", cred, *file_args], env))
        outputs.append(_cli(["token", "-c", cred, *file_args], env))
        tokens.update(_cached_tokens(cache))
        sim_reset.revoke_all()  # the next call meets a 401 with the cached token and refreshes
        outputs.append(_cli(["run", "place_order", "-c", cred, *file_args, "symbol=AAPL",
                             "side=BUY", "quantity=1", "order_type=LMT", "limit_price=95"], env))
        outputs.append(_cli(["run", "place_order", "-c", cred, *file_args, "symbol=AAPL",
                             "side=BUY", "quantity=-1"], env))
        tokens.update(_cached_tokens(cache))
    codes = [p.returncode for p in outputs]
    assert codes == [0, 0, 4, 2] * 2, [(p.returncode, p.stderr[-500:]) for p in outputs]
    assert all("DEBUG" in p.stderr for p in outputs if p.returncode != 2)  # 2: no request made
    assert sim_reset.stats()["auth_failures"] >= 2
    files = sorted(p for p in cache.rglob("*") if p.is_file())
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    scan = SecretScanner(record_secrets(sim_reset.credentials_file))
    assert sim_reset.keys is not None
    scan.add("oauth1a.prepend", sim_reset.keys.access_token_secret_plain.hex())
    for value, label in tokens.items():
        scan.add(label, value)
    assert len(tokens) >= 4, "expected tokens from before and after the revocation"
    scan.assert_clean([p.stdout for p in outputs], "CLI stdout")
    scan.assert_clean([p.stderr for p in outputs], "CLI stderr")
    scan.assert_clean([str(p.relative_to(cache)) for p in files], "cache file names")


#: A token-shaped canary the test sends in a URL, so urllib3's own DEBUG line carries it.
URL_CANARY = "urlCanary0123456789abcdefXYZ"


def _cli_then_library_logs(sim_reset: Simulator, capfd: pytest.CaptureFixture[str],
                           rsa_pem: str) -> tuple[str, dict[str, str]]:
    """Run the real CLI at -v in this process, then let libraries log secrets through its handler.

    Returns (everything written to stderr, the secrets that were logged, by label).
    """
    from noetl_ib_plugin.cli import main as cli_main

    cache = Path(os.environ["NOETL_IB_CACHE_DIR"])
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    try:
        code = cli_main(["run", "get_positions", "-c", "sim_oauth2", "--credentials-file",
                         str(sim_reset.credentials_file), "-v"])
        assert code == 0
        tokens = _cached_tokens(cache)
        bearer = next(v for v, label in tokens.items() if label.endswith(":value"))
        # urllib3 logs the request line, query included, at DEBUG.
        requests.get(f"{sim_reset.url}/v1/api/portfolio/accounts?oauth_token={URL_CANARY}", timeout=10)
        # Libraries that dump headers, bodies or failures at DEBUG.
        logging.getLogger("urllib3.connectionpool").debug("headers %r",
                                                          {"Authorization": f"Bearer {bearer}"})
        logging.getLogger("requests.adapters").debug("body %s", {"private_key": rsa_pem})
        try:
            raise ValueError(f"access_token={bearer}")
        except ValueError:
            logging.getLogger("noetl_ib_plugin.client").debug("request failed", exc_info=True)
    finally:
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
        root.setLevel(saved_level)
    err = capfd.readouterr().err
    return err, {"url_canary": URL_CANARY, "bearer": bearer, "logged_key": rsa_pem}


def test_cli_log_filter_redacts_library_debug_lines(sim_reset: Simulator, capfd: pytest.CaptureFixture[str],
                                                    rsa_pem: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's real DEBUG handler masks secrets urllib3 and others log, and leaks without its filter."""
    # The second run disables the filter and must see every secret: proof the canary can fail.
    from noetl_ib_plugin.common.redaction import RedactingFilter

    err, secrets = _cli_then_library_logs(sim_reset, capfd, rsa_pem)
    assert "DEBUG urllib3.connectionpool" in err and "DEBUG noetl_ib_plugin" in err
    assert "oauth_token=<redacted>" in err and "'Authorization': '<redacted>'" in err
    scan = SecretScanner({**record_secrets(sim_reset.credentials_file), **secrets})
    scan.assert_clean([err], "CLI stderr at DEBUG")
    # The mutation: a filter that lets records through untouched. The canary must catch it.
    monkeypatch.setattr(RedactingFilter, "filter", lambda self, record: True)
    leaky, secrets = _cli_then_library_logs(sim_reset, capfd, rsa_pem)
    assert sorted(SecretScanner(secrets).leaks(leaky)) == ["bearer", "logged_key", "url_canary"]
