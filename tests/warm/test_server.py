"""The warm step server: life cycle, daemon hygiene, staleness, and never running a step twice."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl_ib_plugin.simulator import Simulator

from ..cli.helpers import one_json
from .warmfix import NOETL_IB, Warm, pid_alive, poll

PACKAGE = Path(__file__).resolve().parents[2] / "noetl_ib_plugin"
ORDER = ["run", "place_order", "conid=265598", "side=BUY", "quantity=1", "order_type=LMT",
         "limit_price=188", "--credential", "held"]


class HoldingServer:
    """A NoETL server stand-in that accepts credential look-ups and never answers them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def peer_closed(self) -> bool:
        """True once the first request's sender has gone (its process died)."""
        conn = self.conns[0]
        conn.settimeout(0.05)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return True
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        """Stop accepting and drop every held connection."""
        self.listener.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def holding() -> Iterator[HoldingServer]:
    """A credential server that holds every request."""
    server = HoldingServer()
    try:
        yield server
    finally:
        server.close()


def test_step_runs_in_a_forked_child_with_the_same_output(warm: Warm, sim_env: Simulator) -> None:
    """With a server up, `noetl-ib run` is served by it (jobs_done counts it) and prints its JSON."""
    started = warm.start()
    assert started["started"] is True and pid_alive(started["pid"])
    proc = warm.run("run", "get_positions", "--credential", "sim_oauth2")
    assert proc.returncode == 0, proc.stderr
    assert one_json(proc.stdout)["count"] > 0
    assert warm.status()["jobs_done"] == 1


def test_start_twice_keeps_one_server(warm: Warm) -> None:
    """A second `warm start` finds the running, current server and starts nothing."""
    first = warm.start()
    second = warm.start()
    assert second["started"] is False and second["pid"] == first["pid"]
    assert warm.status()["current"] is True


def test_start_does_not_hold_the_callers_pipes(warm: Warm) -> None:
    """A shell step running `warm start` ends: the daemon keeps no pipe, stdio on /dev/null, own session."""
    proc = subprocess.Popen([NOETL_IB, "warm", "start"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=warm.env)
    out, err = proc.communicate(timeout=60)  # returns only once every writer closed the pipes
    assert proc.returncode == 0, err
    pid = json.loads(out)["pid"]
    warm.pid = pid
    fd_dir = Path(f"/proc/{pid}/fd")

    def targets() -> dict[int, str]:
        return {int(p.name): os.readlink(p) for p in fd_dir.iterdir()}

    assert all(targets()[fd] == "/dev/null" for fd in (0, 1, 2))
    # The daemon closes its end of the ready pipe just after writing "ready": on a busy machine
    # `warm start` can have read that line and exited first. Kept pipes never go away.
    poll(lambda: not [t for t in targets().values() if t.startswith("pipe:")],
         what=f"the daemon to hold no pipe (it holds {targets()})")
    assert os.getsid(pid) != os.getsid(0)


def test_idle_server_exits_and_releases_its_socket(warm: Warm) -> None:
    """`--idle` seconds without a job: the server exits and removes its socket."""
    pid = warm.start(idle=0.3)["pid"]
    poll(lambda: not pid_alive(pid), what="the idle server to exit")
    assert not list(warm.sock_dir.glob("*.sock"))
    assert warm.status()["running"] is False


def test_stop_lets_later_steps_run_in_process(warm: Warm) -> None:
    """`warm stop` ends the server; the next invocation runs in process with the same result."""
    pid = warm.start()["pid"]
    stopped = json.loads(warm.run("warm", "stop").stdout)
    assert stopped["stopped"] is True
    poll(lambda: not pid_alive(pid), what="the stopped server to exit")
    proc = warm.run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("noetl-ib ")


def test_changed_code_runs_in_process_and_stops_the_server(warm: Warm) -> None:
    """A package file whose mtime changed makes the client run in process and the old server exit."""
    pid = warm.start()["pid"]
    target = PACKAGE / "cli" / "warm" / "__init__.py"
    st = target.stat()
    try:
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        proc = warm.run("-v", "--version")
        assert proc.returncode == 0 and proc.stdout.startswith("noetl-ib ")
        assert "installed code changed" in proc.stderr
        poll(lambda: not pid_alive(pid), what="the stale server to exit")
    finally:
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_different_python_settings_run_in_process_and_keep_the_server(warm: Warm) -> None:
    """A client whose PYTHONPATH differs is refused (runs in process); the server stays for others."""
    warm.start()
    proc = warm.run("-v", "--version", PYTHONPATH="/nonexistent")
    assert proc.returncode == 0 and proc.stdout.startswith("noetl-ib ")
    assert "refused" in proc.stderr
    assert warm.status()["jobs_refused"] == 1
    assert warm.run("--version").returncode == 0
    assert warm.status()["jobs_done"] == 1  # still serving the others


def test_exit_codes_and_stderr_pass_through(warm: Warm) -> None:
    """A usage error in the child is exit 2 with the JSON error on the client's stderr."""
    warm.start()
    proc = warm.run("run", "no_such_action", "--credential", "x")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert json.loads(proc.stderr.strip().splitlines()[-1])["error"]["field"] == "action"
    assert warm.status()["jobs_done"] == 1


def test_server_killed_after_the_ack_is_outcome_unknown_not_a_rerun(
    warm: Warm, holding: HoldingServer
) -> None:
    """Server lost after accepting a place_order: exit 6, one stderr line, no second attempt."""
    server_pid = warm.start()["pid"]
    client = subprocess.Popen([NOETL_IB, *ORDER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**warm.env, "NOETL_SERVER_URL": holding.url})
    assert holding.accepted.wait(60), "the child never asked for the credential"
    os.kill(server_pid, signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    assert client.returncode == 6, err
    assert "outcome is unknown" in err and "not re-run" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
    assert len(holding.conns) == 1  # the client did not run the step in process
    poll(holding.peer_closed, what="the orphaned child to die with its server")


def test_client_killed_kills_its_child(warm: Warm, holding: HoldingServer) -> None:
    """A step timeout kills the client; the server sees EOF and kills the child it forked."""
    warm.start()
    client = subprocess.Popen([NOETL_IB, *ORDER], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**warm.env, "NOETL_SERVER_URL": holding.url})
    assert holding.accepted.wait(60), "the child never asked for the credential"
    client.kill()
    client.wait(timeout=60)
    poll(holding.peer_closed, what="the child to be killed")
    poll(lambda: "killed: its client went away" in warm.log_text(), what="the log line")
    poll(lambda: warm.status()["jobs_running"] == 0, what="the child to be reaped")


def test_warm_disabled_by_environment(warm: Warm) -> None:
    """NOETL_IB_WARM=off runs in process even with a server up."""
    warm.start()
    proc = warm.run("--version", NOETL_IB_WARM="off")
    assert proc.returncode == 0
    assert warm.status()["jobs_done"] == 0


def test_socket_path_too_long_is_a_typed_error_and_steps_still_run(warm: Warm) -> None:
    """A cache dir too long for AF_UNIX: `warm start` exits 2 naming NOETL_IB_CACHE_DIR; steps run."""
    deep = warm.cache / ("d" * 100)
    proc = warm.run("warm", "start", NOETL_IB_CACHE_DIR=str(deep))
    assert proc.returncode == 2
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert error["field"] == "NOETL_IB_CACHE_DIR" and "longer than 107 bytes" in error["message"]
    assert warm.run("--version", NOETL_IB_CACHE_DIR=str(deep)).returncode == 0


@pytest.mark.parametrize("idle", ["0", "-5", "nan", "inf", "1e9"])
def test_idle_must_be_a_sane_number_of_seconds(warm: Warm, idle: str) -> None:
    """--idle outside (0, one week] is a usage error (exit 2) and starts nothing."""
    proc = warm.run("warm", "start", "--idle", idle)
    assert proc.returncode == 2
    assert json.loads(proc.stderr.strip().splitlines()[-1])["error"]["field"] == "idle"
    assert warm.status()["running"] is False


def test_child_takes_the_clients_resource_limits(warm: Warm, holding: HoldingServer) -> None:
    """`ulimit -n 200` in the step applies to the child as it would to a fresh process."""
    warm.start()
    env = {**warm.env, "NOETL_SERVER_URL": holding.url}
    client = subprocess.Popen(["/bin/sh", "-c", f'ulimit -n 200 && exec "{NOETL_IB}" "$@"', "sh", *ORDER],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        assert holding.accepted.wait(60), "the child never asked for the credential"
        pid = int(poll(lambda: re.findall(r"job (\d+) started", warm.log_text()), what="job")[-1])
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert re.search(r"Max open files\s+200\s+200", limits), limits
    finally:
        client.kill()
        client.wait(timeout=60)


def test_limits_above_the_servers_run_in_process(warm: Warm) -> None:
    """A client whose hard limit exceeds the server's is refused (the child could not take it)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the open-files limit is already at or below 256")
    start = subprocess.run(["/bin/sh", "-c", f'ulimit -n 256 && exec "{NOETL_IB}" warm start'],
                           capture_output=True, text=True, env=warm.env, check=True, timeout=60)
    warm.pid = json.loads(start.stdout)["pid"]
    proc = warm.run("-v", "--version")
    assert proc.returncode == 0 and "resource limits" in proc.stderr
    assert warm.status()["jobs_refused"] == 1


def test_every_preloaded_module_exists() -> None:
    """A module renamed by a refactor fails here, not as a server that never comes up."""
    import importlib

    from noetl_ib_plugin.cli.warm.server import PRELOAD

    for name in PRELOAD:
        assert importlib.import_module(name).__name__ == name


def test_server_log_starts_over_past_its_cap(tmp_path: Path) -> None:
    """A long-lived server's log stays bounded: past `log_max` bytes it starts over."""
    from types import SimpleNamespace

    from noetl_ib_plugin.cli.warm.server import Server

    fd = os.open(tmp_path / "s.log", os.O_WRONLY | os.O_CREAT, 0o600)
    fake = SimpleNamespace(log_fd=fd, log_max=200)
    try:
        for i in range(50):
            Server.log(fake, f"job {i} ended 0")  # type: ignore[arg-type]
    finally:
        os.close(fd)
    text = (tmp_path / "s.log").read_text()
    assert len(text) < 200 + 100  # never far past the cap
    assert "log restarted" in text and "job 49 ended 0" in text


def test_dripping_client_holds_the_server_for_one_handshake_bound_in_total(warm: Warm) -> None:
    """A client dripping its job is dropped after the handshake bound in total; the next step is served."""
    import struct
    import time

    from noetl_ib_plugin.cli.warm.server import HANDSHAKE_TIMEOUT

    warm.start()
    sock_path = str(next(warm.sock_dir.glob("*.sock")))
    drip = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    drip.connect(sock_path)
    body = b"x" * 400
    sent = 0
    with drip:
        for byte in struct.pack("!I", len(body)) + body:  # 80 s at this pace if never dropped
            try:
                drip.send(bytes([byte]))
            except OSError:
                break
            sent += 1
            time.sleep(0.2)
    assert sent < 2 * HANDSHAKE_TIMEOUT / 0.2  # dropped near the bound, whatever the pace
    assert "dropped a connection" in warm.log_text()
    assert warm.run("--version").returncode == 0
    assert warm.status()["jobs_done"] == 1


@pytest.mark.parametrize("variable", ["NOETL_IB_CACHE_DIR", "XDG_CACHE_HOME"])
def test_relative_cache_dir_is_refused_by_name_and_leaves_nothing(
    warm: Warm, tmp_path: Path, variable: str
) -> None:
    """A relative cache dir: `warm start` exits 2 naming it, makes nothing; steps run in process."""
    env = {**warm.env, variable: "relc"}
    if variable != "NOETL_IB_CACHE_DIR":
        env.pop("NOETL_IB_CACHE_DIR")
    proc = subprocess.run([NOETL_IB, "warm", "start"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert error["field"] == variable and "relative path" in error["message"]
    assert "absolute directory" in error["message"]
    assert list(tmp_path.iterdir()) == [] and not Path("/relc").exists()
    step = subprocess.run([NOETL_IB, "-v", "--version"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60, check=False)
    assert step.returncode == 0 and "relative path" in step.stderr


def test_many_dripping_connections_delay_a_step_by_one_handshake_bound_at_most(warm: Warm) -> None:
    """Eight connections dripping at once: a step still ends within its connect + handshake bounds."""
    import struct
    import threading
    import time

    from noetl_ib_plugin.cli.warm.client import CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT

    warm.start()
    sock_path = str(next(warm.sock_dir.glob("*.sock")))
    stop = threading.Event()

    conns = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(8)]
    for conn in conns:
        conn.connect(sock_path)  # all queued before the step connects
    message = struct.pack("!I", 400) + b"x" * 400

    def drip(conn: socket.socket) -> None:
        with conn:
            for byte in message:
                if stop.is_set():
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    threads = [threading.Thread(target=drip, args=(c,), daemon=True) for c in conns]
    for thread in threads:
        thread.start()
    try:
        started = time.monotonic()
        step = warm.run("-v", "--version")
        took = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert step.returncode == 0 and step.stdout.startswith("noetl-ib ")
    assert took < CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT + 8, took  # + an in-process run on a busy box
