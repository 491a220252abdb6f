"""Hostile neighbours: another user's socket, directory or client is never trusted, nothing leaks."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from .warmfix import Warm, pid_alive

CANARY = "canary-s3cr3t-7f1c9a"


#: A uid (and gid) no account uses, when the machine has no second local user `mallory`.
SPARE_UID = 64_101


def _mallory() -> int:
    """uid of the second local user `mallory`, else an unused uid (needs root to act as them)."""
    if os.geteuid() != 0:
        pytest.skip("acting as another user needs root")
    try:
        return pwd.getpwnam("mallory").pw_uid
    except KeyError:
        return SPARE_UID


def _foreign_python() -> str:
    """An interpreter the other user may execute (the venv's lives under /root), or skip."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        mode = os.stat(candidate).st_mode if os.path.exists(candidate) else 0
        if mode & 0o001:
            return candidate
    pytest.skip("no interpreter the other user can run")


def _served(warm: Warm) -> int:
    return int(warm.status()["jobs_done"])


def test_directory_open_to_others_is_not_used(warm: Warm) -> None:
    """A warm directory with group/other access: the step runs in process; a note only with -v."""
    warm.start()
    os.chmod(warm.sock_dir, 0o755)
    try:
        quiet = warm.run("--version")
        loud = warm.run("-v", "--version")
    finally:
        os.chmod(warm.sock_dir, 0o700)
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == ""
    assert "warm server not used" in loud.stderr and "mode 755" in loud.stderr
    assert quiet.stdout == loud.stdout
    assert _served(warm) == 0


@pytest.mark.parametrize("what", ["directory", "socket"])
def test_path_owned_by_another_user_is_not_used(warm: Warm, what: str) -> None:
    """The warm directory or the socket owned by another uid: not used, step runs in process."""
    uid = _mallory()
    warm.start()
    sock = next(warm.sock_dir.glob("*.sock"))
    target = warm.sock_dir if what == "directory" else sock
    os.chown(target, uid, -1)
    try:
        proc = warm.run("-v", "--version")
    finally:
        os.chown(target, 0, -1)
    assert proc.returncode == 0
    assert f"owned by uid {uid}" in proc.stderr
    assert _served(warm) == 0


_ROGUE = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
conn, _ = s.accept()
got = b""
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    got += chunk
print(len(got), flush=True)
"""


def test_socket_served_by_another_user_gets_nothing(warm: Warm) -> None:
    """A server run by another uid behind a socket file we own: SO_PEERCRED refuses it before any byte."""
    uid = _mallory()
    python = _foreign_python()
    warm.sock_dir.mkdir(mode=0o700)
    from noetl_ib_plugin.cli.warm import paths

    sock = paths.socket_path({"NOETL_IB_CACHE_DIR": str(warm.cache)})
    os.chmod(warm.cache, 0o711)
    os.chmod(warm.sock_dir, 0o777)
    rogue = subprocess.Popen([python, "-c", _ROGUE, str(sock)], user=uid, group=uid,
                             extra_groups=[], text=True,
                             stdout=subprocess.PIPE, env={"PATH": os.environ["PATH"]})
    try:
        assert rogue.stdout is not None
        assert rogue.stdout.readline().strip() == "listening"
        os.chown(sock, 0, -1)  # the file looks like ours; only the peer's uid tells
        os.chmod(warm.sock_dir, 0o700)
        proc = warm.run("-v", "--version", NOETL_IB_TEST_CANARY=CANARY)
        received = rogue.stdout.readline().strip()
    finally:
        rogue.kill()
        rogue.wait(timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("noetl-ib ")
    assert f"served by uid {uid}" in proc.stderr
    assert received == "0"  # not one byte (the environment may hold secrets) reached it


_FOREIGN_CLIENT = """
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
body = json.dumps({"t": "status"}).encode()
try:
    s.sendall(struct.pack("!I", len(body)) + body)
    print(repr(s.recv(65536)), flush=True)
except OSError as exc:
    print("error", type(exc).__name__, flush=True)
"""


def test_client_of_another_user_is_refused(warm: Warm) -> None:
    """Even with the socket opened up, a client of another uid gets no answer and is logged by uid."""
    uid = _mallory()
    python = _foreign_python()
    warm.start()
    sock = next(warm.sock_dir.glob("*.sock"))
    os.chmod(warm.cache, 0o711)
    os.chmod(warm.sock_dir, 0o711)
    os.chmod(sock, 0o666)
    try:
        proc = subprocess.run([python, "-c", _FOREIGN_CLIENT, str(sock)], user=uid, group=uid,
                              extra_groups=[],
                              capture_output=True, text=True, timeout=60, check=False,
                              env={"PATH": os.environ["PATH"]})
    finally:
        os.chmod(sock, 0o600)
        os.chmod(warm.sock_dir, 0o700)
        os.chmod(warm.cache, 0o700)
    assert proc.stdout.strip() in ("b''", "error ConnectionResetError", "error BrokenPipeError"), proc
    assert f"refused a client of uid {uid}" in warm.log_text()
    assert warm.status()["jobs_refused"] == 1


def test_nothing_secret_in_status_log_or_server_environment(warm: Warm) -> None:
    """Secrets in the starter's or a client's env and argv reach neither status, log nor the server."""
    cache_env = warm.env
    start = subprocess.run([str(Path(sys.executable).parent / "noetl-ib"), "warm", "start"],
                           env={**cache_env, "IB_SECRET": CANARY}, capture_output=True, text=True,
                           check=True, timeout=60)
    pid = json.loads(start.stdout)["pid"]
    warm.pid = pid
    assert pid_alive(pid)
    proc = warm.run("run", "get_positions", "--credential", CANARY, "--args-json",
                    json.dumps({"token": CANARY}), IB_SECRET=CANARY)
    assert proc.returncode != 0  # no such credential; the failure itself is the child's business
    status = warm.run("warm", "status")
    environ = Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
    for text in (status.stdout, status.stderr, warm.log_text(), environ, start.stdout):
        assert CANARY not in text
    assert json.loads(status.stdout)["jobs_done"] == 1
