"""Issue 25 input 8: a keychain that accepts and never answers costs at most one deadline per
host per period, not one per step; the host's memory of it is a file only this user can plant."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache

KEY = "0123456789abcdef0123456789abcdef"
PERIOD = 60.0

#: One playbook step's use of the shared cache, in a fresh process: lock, load, claim, store.
STEP = textwrap.dedent("""
    import sys, time
    from noetl_ib_plugin.auth.cache import FileTokenCache
    from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache
    url, directory, offset = sys.argv[1], sys.argv[2], float(sys.argv[3])
    clock = lambda: time.time() + offset
    cache = KeychainTokenCache(url, "42", FileTokenCache(directory), timeout=(0.5, 0.5),
                               deadline=1.0, wait=0.0, clock=clock, down_period=%r)
    key = "%s"
    with cache.lock(key):
        cache.load(key)
        cache.claim_fetch(key, lambda entry: True)
        now = clock()
        cache.store(key, {"value": "t", "expires_at": now + 600, "obtained_at": now,
                          "scheme": "oauth2", "extra": {}})
    print(cache.local.load(key)["value"])
""") % (PERIOD, KEY)


class Silent:
    """A TCP server that accepts every connection, counts it, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    """An accept-and-never-answer keychain server."""
    server = Silent()
    yield server
    server.close()


def _step(silent: Silent, directory: Path, offset: float = 0.0) -> str:
    done = subprocess.run([sys.executable, "-c", STEP, silent.url, str(directory), str(offset)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_silent_keychain_costs_one_deadline_per_host_per_period(
    silent: Silent, tmp_path: Path
) -> None:
    """Four fresh-process steps cost one connection in all; after the period one probe again."""
    host = tmp_path / "host"
    assert [_step(silent, host) for _ in range(4)] == ["t"] * 4  # the host's files served
    assert silent.accepted == 1
    later = PERIOD + 1.0
    _step(silent, host, later)
    assert silent.accepted == 2  # the period passed: one probe...
    _step(silent, host, later)
    assert silent.accepted == 2  # ...remembered again


def _cache(url: str, directory: Path) -> KeychainTokenCache:
    return KeychainTokenCache(url, "42", FileTokenCache(directory), timeout=(0.5, 0.5),
                              deadline=1.0, down_period=PERIOD)


def _marker(directory: Path) -> Path:
    (path,) = directory.glob("keychain-down-*.json")
    return path


@pytest.mark.parametrize("plant", ["mode-644", "far-future", "symlink", "not-json", "nan"])
def test_a_failure_record_not_ours_or_out_of_bounds_is_ignored(
    silent: Silent, tmp_path: Path, plant: str
) -> None:
    """A record with group/other bits, past the period, a symlink or garbage: the server is asked."""
    host = tmp_path / "host"
    with _cache(silent.url, host).lock(KEY):
        _cache(silent.url, host).load(KEY)
    path = _marker(host)
    until = json.loads(path.read_text())["until"]
    if plant == "mode-644":
        path.chmod(0o644)
    elif plant == "far-future":
        path.write_text(json.dumps({"until": until + 10 * PERIOD}))
    elif plant == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(path.read_text())
        target.chmod(0o600)
        path.unlink()
        os.symlink(target, path)
    else:
        path.write_text("{" if plant == "not-json" else '{"until": NaN}')
    _cache(silent.url, host).load(KEY)
    assert silent.accepted == 2  # a fresh cache did not trust the planted record


def test_a_failure_record_in_a_shared_directory_is_not_written(tmp_path: Path) -> None:
    """No record is written into a directory open to others; the process still remembers."""
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o700)
    cache = _cache("http://127.0.0.1:9", open_dir)
    open_dir.chmod(0o777)
    cache.load(KEY)  # refused at once: remembered in memory
    assert not list(open_dir.glob("keychain-down-*"))
    assert cache.down.is_down()
