"""The CLI announces itself, writes credentials.json (0600) and exits 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.cli import build_parser, main
from noetl_ib_plugin.simulator.keys import new_rsa_key, public_pem

from .clients import OAuth2Client, Trader, load_private


def test_cli_subprocess_lifecycle(tmp_path: Path) -> None:
    """One JSON line on stdout, mode-600 credentials with both records, exit 0 on SIGTERM."""
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "noetl_ib_plugin.simulator", "--state-dir", str(state),
         "--no-pacing", "--seed", "3", "--faults", '{"latency_ms": 1}',
         "--order-options", '{"enforce_coid_unique": false}'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert set(ready) == {"url", "credentials_file", "pid"} and ready["pid"] == proc.pid
        path = Path(ready["credentials_file"])
        assert path == state / "credentials.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        creds = {r["name"]: r for r in json.loads(path.read_text())["credentials"]}
        assert creds["sim_oauth2"]["type"] == "interactive_brokers_oauth"
        assert creds["sim_oauth1a"]["type"] == "interactive_brokers_oauth1a"
        assert creds["sim_oauth2"]["data"]["api_base_url"] == ready["url"]
        assert creds["sim_oauth1a"]["data"]["realm"] == "limited_poa"
        assert requests.get(f"{ready['url']}/__sim/health", timeout=5).json() == {"ok": True}
        options = requests.get(f"{ready['url']}/__sim/options", timeout=5).json()
        assert options["enforce_coid_unique"] is False
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_faults() -> None:
    """An invalid --faults plan or --order-options object exits 2 before starting."""
    for argv in (["--faults", "[1]"], ["--order-options", "[1]"],
                 ["--order-options", '{"coid_check": false}']):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert build_parser().parse_args(["--port", "0"]).port == 0


def test_credentials_records_shape(ib_simulator: object) -> None:
    """The shipped ib_simulator fixture writes every documented credential field."""
    from noetl_ib_plugin.simulator import Simulator

    assert isinstance(ib_simulator, Simulator)
    creds = json.loads(ib_simulator.credentials_file.read_text())["credentials"]
    by_name = {r["name"]: r for r in creds}
    for rec in creds:
        assert set(rec) == {"name", "type", "description", "tags", "data"}
    assert set(by_name["sim_oauth2"]["data"]) == {
        "client_id", "key_id", "private_key", "username", "account_id", "environment",
        "api_base_url"}
    assert set(by_name["sim_oauth1a"]["data"]) == {
        "consumer_key", "access_token", "access_token_secret", "signature_key",
        "encryption_key", "dh_prime", "dh_generator", "realm", "account_id", "environment",
        "api_base_url"}
    assert by_name["sim_oauth1a"]["data"]["consumer_key"].isupper()
    assert len(by_name["sim_oauth1a"]["data"]["consumer_key"]) == 9
    assert os.stat(ib_simulator.credentials_file).st_mode & 0o777 == 0o600


def test_running_simulator_helper() -> None:
    """running_simulator starts a server and stops it (port closed) on exit."""
    from noetl_ib_plugin.testing import running_simulator

    with running_simulator(pacing=False) as sim_shared:
        url = sim_shared.url
        assert requests.get(f"{url}/__sim/health", timeout=5).status_code == 200
    try:
        requests.get(f"{url}/__sim/health", timeout=1)
        raise AssertionError("simulator still answering after stop")
    except requests.ConnectionError:
        pass


def test_help_texts_for_every_option() -> None:
    """--host, --seed, --token-ttl (and every other option) say what they do."""
    parser = build_parser()
    for action in parser._actions:
        if action.dest != "help":
            assert action.help, action.dest
    text = parser.format_help()
    assert "loopback" in text and "same seed" in text and "86399" in text


def _free_port() -> int:
    """A port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_state_dir_keeps_keys_port_registrations_and_orders(tmp_path: Path) -> None:
    """A restart on one --state-dir keeps keys (same credentials file), port, registrations and orders."""
    state = tmp_path / "state"
    port = _free_port()
    key = new_rsa_key()
    mine = {"type": "oauth2", "client_id": "MINE", "key_id": "mine-1", "username": "me2",
            "account_id": "DU5550002", "public_key": public_pem(key)}
    with Simulator(port=port, state_dir=state, pacing=False, bridge_warmup=0) as first:
        creds_before = first.credentials_file.read_text()
        first.register(mine)
        data = {r["name"]: r["data"] for r in first.credentials}["sim_oauth2"]
        client = OAuth2Client(first.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        trader = Trader(first.url, "DU1234567", bearer=client.bearer()).init()
        trader.get("/iserver/accounts")
        placed = trader.confirm_all(trader.order(conid=265598, orderType="LMT", price=1.0,
                                                 quantity=1, cOID="keep-me"))
        order_id = placed[0]["order_id"]
    assert stat.S_IMODE((state / "keys.json").stat().st_mode) == 0o600
    with Simulator(port=None, state_dir=state, pacing=False, bridge_warmup=0) as second:
        assert second.port == port
        assert second.credentials_file.read_text() == creds_before
        assert [o for o in second.orders() if str(o.get("order_id")) == order_id]
        client = OAuth2Client(second.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        assert client.bearer()
        own = OAuth2Client(second.url, "MINE", "mine-1", key, "me2")
        t = Trader(second.url, "DU5550002", bearer=own.bearer()).init()
        assert t.get("/iserver/accounts").json()["accounts"] == ["DU5550002", "DU6661113"]


class _Planted:
    """A pickle payload that, if ever unpickled, creates the file named by `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _planted_book(state: Path, marker: Path, *, dir_mode: int, file_mode: int) -> None:
    """A state dir holding a book.pickle that would run code when loaded."""
    import pickle

    state.mkdir(mode=0o700)
    book = state / "book.pickle"
    book.write_bytes(pickle.dumps(_Planted(marker)))
    os.chmod(book, file_mode)
    os.chmod(state, dir_mode)


def test_book_others_could_write_is_never_unpickled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A book.pickle in a group/other-writable dir, or writable itself, is skipped with the fix."""
    import logging

    for name, dir_mode, file_mode in (("dir", 0o777, 0o600), ("file", 0o700, 0o666)):
        state, marker = tmp_path / name, tmp_path / f"{name}-ran"
        _planted_book(state, marker, dir_mode=dir_mode, file_mode=file_mode)
        with caplog.at_level(logging.WARNING), Simulator(state_dir=state, pacing=False,
                                                         bridge_warmup=0) as sim_shared:
            assert sim_shared.orders() == []
        assert not marker.exists()  # the payload never ran
        assert f"chmod 700 {state}; chmod 600 {state / 'book.pickle'}" in caplog.text
    # the control: the same payload in a private dir is unpickled (so the check is what stops it)
    state, marker = tmp_path / "mine", tmp_path / "mine-ran"
    _planted_book(state, marker, dir_mode=0o700, file_mode=0o600)
    with Simulator(state_dir=state, pacing=False, bridge_warmup=0):
        pass
    assert marker.exists()


@pytest.mark.parametrize(("argv", "option"), [
    (["--faults", '{"http_500": 2}'], "--faults"),
    (["--faults", '{"nosuch": 1}'], "--faults"),
    (["--faults", '{"http_500": [1]}'], "--faults"),
    (["--faults", "[1]"], "--faults"),
    (["--faults", "{"], "--faults"),
    (["--order-options", '{"pending_submit_s": [1]}'], "--order-options"),
    (["--order-options", '{"coid_check": false}'], "--order-options"),
    (["--port", "99999"], "--port"),
    (["--port", "-1"], "--port"),
    (["--port", "http"], "--port"),
    (["--token-ttl", "nan"], "--token-ttl"),
    (["--token-ttl", "-5"], "--token-ttl"),
    (["--token-ttl", "0"], "--token-ttl"),
    (["--token-ttl", "1e12"], "--token-ttl"),
    (["--bridge-warmup", "inf"], "--bridge-warmup"),
    (["--bridge-warmup", "-1"], "--bridge-warmup"),
    (["--penalty-seconds", "-1"], "--penalty-seconds"),
    (["--penalty-seconds", "nan"], "--penalty-seconds"),
    (["--bulk-positions", "-3"], "--bulk-positions"),
    (["--bulk-positions", "1e9"], "--bulk-positions"),
    (["--seed", "x"], "--seed"),
    (["--host", ""], "--host"),
    (["--host", "127.0.0.1 evil"], "--host"),
])
def test_every_bad_option_value_is_a_usage_error_naming_it(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad value exits 2 before starting, naming the option and an example to copy."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert f"argument {option}:" in err and "Traceback" not in err
    assert "e.g." in err or "see `noetl-ib simulator --help`" in err


def test_state_dir_that_is_a_file_is_refused_and_never_hangs(tmp_path: Path) -> None:
    """`--state-dir <a file>` exits 2 at once (it used to hang ignoring SIGINT)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    done = subprocess.run([sys.executable, "-m", "noetl_ib_plugin.simulator", "--state-dir",
                           str(afile)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "argument --state-dir:" in done.stderr and "Traceback" not in done.stderr


def test_a_start_that_fails_after_binding_stops_without_hanging(tmp_path: Path) -> None:
    """A simulator whose start fails (state dir is a file) releases its port and stop() returns."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    sim = Simulator(state_dir=afile, pacing=False)
    with pytest.raises(OSError):
        sim.start()
    sim.stop()  # returned: no shutdown() waiting for a serve loop that never ran


def test_a_port_in_use_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Listening on a taken port exits 2 naming --host/--port, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--no-pacing"]) == 2
    err = capsys.readouterr().err
    assert "argument --host/--port" in err and "--port 0" in err
