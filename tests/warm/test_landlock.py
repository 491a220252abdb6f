"""Landlock, which /proc does not show: a sandboxed process is neither served nor sends-to.

Issue 25 review: a Landlock domain makes two processes with equal /proc identities unequal. A
sandboxed process that rebinds the socket must get nothing from an unsandboxed client, and a
sandboxed client must not get its step run outside its sandbox by a server started outside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .warmfix import NOETL_IB, Warm, pid_alive, rogue_receives

CANARY = "canary-oauth-secret-landlock-71c9"

#: Enter a Landlock domain (landlock(7): create_ruleset 444, restrict_self 446) handling only
#: "make a FIFO" with no rule (nothing a step needs), then exec the command in the rest of argv. Root keeps
#: every capability and no no_new_privs is set (CAP_SYS_ADMIN allows that): /proc shows no
#: difference at all.
_SANDBOX = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = struct.pack("QQQ", 1 << 11, 0, 0)  # handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_FIFO
buf = ctypes.create_string_buffer(attr, len(attr))
fd = libc.syscall(444, buf, ctypes.c_size_t(16), 0)
if fd < 0 or libc.syscall(446, fd, 0) != 0:
    sys.exit(f"landlock unavailable: errno {ctypes.get_errno()}")
os.execv(sys.argv[1], sys.argv[1:])
"""
SANDBOX = [sys.executable, "-c", _SANDBOX]


def _landlock_abi() -> int:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.syscall(444, None, ctypes.c_size_t(0), 1))  # LANDLOCK_CREATE_RULESET_VERSION
    except (OSError, AttributeError):
        return -1


pytestmark = pytest.mark.skipif(_landlock_abi() < 1 or os.geteuid() != 0,
                                reason="needs Landlock and root (restrict_self without no_new_privs)")


def test_sandboxed_process_binding_its_own_socket_gets_no_environment(warm: Warm) -> None:
    """A Landlock-sandboxed root (same /proc identity) rebinding the socket gets no env, no fd."""
    received, client = rogue_receives(warm, SANDBOX, CANARY)
    assert (received["fds"], received["canary"]) == (0, False)  # at most the hello's fd number
    assert client.returncode == 2  # in process: the record does not exist (the fake said 0)
    assert json.loads(client.stderr.strip().splitlines()[-1])["error"]["field"] == "credential"
    assert "warm server not used" in client.stderr


def test_sandboxed_client_is_not_served_outside_its_sandbox(warm: Warm) -> None:
    """A Landlock-sandboxed client is not served: its step runs in process, inside the sandbox."""
    warm.start()
    proc = subprocess.run([*SANDBOX, NOETL_IB, "-v", "--version"],
                          capture_output=True, text=True, env=warm.env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("noetl-ib ")
    status = warm.status()
    assert status["jobs_done"] == 0, "a sandboxed client was served by a server outside its sandbox"


def test_sandboxed_process_cannot_stop_the_server(warm: Warm) -> None:
    """`warm stop` from inside a Landlock sandbox is refused; the server keeps running."""
    warm.start()
    proc = subprocess.run([*SANDBOX, NOETL_IB, "warm", "stop"],
                          capture_output=True, text=True, env=warm.env, timeout=60, check=False)
    assert json.loads(proc.stdout)["stopped"] is False
    assert pid_alive(warm.pid) and not warm.status()["stopping"]



_STALE_CODE_JOB = r"""
import json, socket, sys
from noetl_ib_plugin.cli.warm import wire
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
wire.send_message(s, {"t": "job", "code": "stale", "argv": [], "env": {}}, [0, 1, 2])
print(json.dumps(wire.recv_message(s)[0]), flush=True)
"""


@pytest.mark.parametrize("prefix", [SANDBOX, []], ids=["landlock", "unproven"])
def test_weaker_client_cannot_stop_the_server_by_claiming_stale_code(
    warm: Warm, prefix: list[str]
) -> None:
    """A job claiming another code fingerprint without the ptrace proof is refused; the server stays."""
    warm.start()
    sock = next(warm.sock_dir.glob("*.sock"))
    proc = subprocess.run([*prefix, sys.executable, "-c", _STALE_CODE_JOB, str(sock)],
                          capture_output=True, text=True, env=warm.env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["t"] == "refuse"
    status = warm.status()
    assert (status["stopping"], status["jobs_refused"]) == (False, 1)
