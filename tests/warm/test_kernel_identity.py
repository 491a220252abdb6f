"""The warm server and its client take each other's identity from the kernel, never from a message.

Issue 25 items 2 and 3: a same-user process with fewer privileges neither borrows the server's
groups by quoting the server's identity, nor receives a client's environment and stdio by
binding its own socket.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .warmfix import NOETL_IB, Warm, rogue_receives

SETPRIV = shutil.which("setpriv")
pytestmark = pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0,
                                reason="needs root and util-linux setpriv")
#: Every capability dropped: root's uid alone, as any process of this user has it.
NO_CAPS = [str(SETPRIV), "--bounding-set=-all", "--inh-caps=-all"]
CANARY = "canary-oauth-secret-5d2e8b"
#: A group only the server holds, and an owner that is not this user.
GROUP, OWNER = 4242, 64_102

_FORGED_CLIENT = r"""
import json, os, socket, sys
import time
from noetl_ib_plugin.cli.warm import identity, paths, proof, wire
sock_path, server_pid, creds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# sys.path and PYDANTIC_* as the console script has them, so only the identity tells it apart
sys.path[0] = sys.argv[4]
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
# What the issue's hostile client did: quote the server's identity (readable from /proc) as its own.
digest = identity.process_identity(server_pid)
hello = {"t": "job", "code": paths.code_key(), "job": paths.job_key(os.environ), "who": digest,
         "argv": ["run", "get_positions", "--credential", "x", "--credentials-file", creds],
         "argv0": "noetl-ib", "cwd": "/", "env": dict(os.environ), "umask": 0o22,
         "rlimits": identity.process_limits(server_pid)}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sock_path)
# It may ptrace the server (same uid, no fewer capabilities): the proof exchange passes.
hello["proof"] = proof.exchange(s, identity.peer_of(s).pidfd, time.monotonic() + 10)
wire.send_message(s, hello, [0, 1, 2])
answer, _ = wire.recv_message(s)
if answer.get("t") == "ok":
    wire.send_message(s, {"t": "go"})
    answer, _ = wire.recv_message(s)
print(json.dumps(answer), flush=True)
"""


@pytest.fixture
def group_only_file() -> Iterator[Path]:
    """A credentials file readable by GROUP only (owner OWNER, mode 0040) in a searchable dir."""
    directory = Path(tempfile.mkdtemp(prefix="nibgrp", dir="/tmp"))
    os.chmod(directory, 0o755)
    creds = directory / "creds.json"
    creds.write_text('{"credentials": {}}')
    os.chown(creds, OWNER, GROUP)
    os.chmod(creds, 0o040)
    try:
        yield creds
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start_with_group(warm: Warm) -> int:
    """`warm start` as root without capabilities but with GROUP: the server holds the group."""
    proc = subprocess.run([*NO_CAPS, f"--groups={GROUP}", NOETL_IB, "warm", "start"],
                          capture_output=True, text=True, env=warm.env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    warm.pid = int(json.loads(proc.stdout)["pid"])
    return warm.pid


def test_client_quoting_the_servers_identity_is_not_served_with_its_groups(
    warm: Warm, group_only_file: Path
) -> None:
    """A same-user client without the server's group that sends the server's identity digest is refused."""
    server_pid = _start_with_group(warm)
    sock = next(warm.sock_dir.glob("*.sock"))
    forged = subprocess.run([*NO_CAPS, "--clear-groups", sys.executable, "-c", _FORGED_CLIENT,
                             str(sock), str(server_pid), str(group_only_file),
                             os.path.dirname(NOETL_IB)],
                            capture_output=True, text=True, env=warm.env, timeout=60, check=False)
    assert forged.returncode == 0, forged.stderr
    answer = json.loads(forged.stdout)
    assert answer["t"] == "refuse" and answer["reason"].startswith("groups, capabilities")
    status = warm.status()
    assert (status["jobs_done"], status["jobs_refused"]) == (0, 1)


def test_client_without_the_group_runs_in_process_and_cannot_read_the_file(
    warm: Warm, group_only_file: Path
) -> None:
    """The real console script without the group runs in process: Permission denied, as alone."""
    _start_with_group(warm)
    args = ("run", "get_positions", "--credential", "x", "--credentials-file", str(group_only_file))
    run = [*NO_CAPS, "--clear-groups", NOETL_IB]
    served = subprocess.run([*run, *args], capture_output=True, text=True, env=warm.env,
                            timeout=60, check=False)
    alone = subprocess.run([*run, *args], capture_output=True, text=True,
                           env={**warm.env, "NOETL_IB_WARM": "off"}, timeout=60, check=False)
    assert "Permission denied" in alone.stderr
    assert (served.returncode, served.stdout, served.stderr) == (alone.returncode, alone.stdout,
                                                                alone.stderr)
    with_group = subprocess.run([*NO_CAPS, f"--groups={GROUP}", NOETL_IB, *args],
                                capture_output=True, text=True, env=warm.env, timeout=60,
                                check=False)
    assert "Permission denied" not in with_group.stderr  # the group does read it (control)
    assert warm.status()["jobs_done"] == 1  # only the client holding the group was served


def test_weaker_process_binding_its_own_socket_gets_nothing(warm: Warm) -> None:
    """A capless no_new_privs root rebinding the socket gets no byte or fd; its fake result is ignored."""
    received, client = rogue_receives(warm, [*NO_CAPS, "--no-new-privs"], CANARY)
    assert received == {"bytes": 0, "fds": 0, "canary": False}
    assert client.returncode == 2  # in process: the record does not exist (the fake said 0)
    assert json.loads(client.stderr.strip().splitlines()[-1])["error"]["field"] == "credential"
    assert "differ from this process's" in client.stderr
