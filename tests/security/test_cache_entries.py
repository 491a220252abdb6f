"""Token cache entries: lock waits end, corrupt entries are misses, numbers in entries are bounded."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache, MemoryTokenCache, valid_entry
from noetl_ib_plugin.errors import ConfigurationError, TransientError
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act, provider_for

KEY = "0123456789abcdef0123456789abcdef"
NOW = time.time()
GOOD_B64 = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


def _raw(value: object = "planted", *, scheme: str = "oauth2", expires: str | None = None,
         obtained: str | None = None, extra: str = "{}") -> str:
    """Cache-file text built by hand, so JSON's NaN/Infinity literals can be planted."""
    return (
        f'{{"value":{json.dumps(value)},"scheme":"{scheme}",'
        f'"expires_at":{expires or repr(NOW + 3600)},"obtained_at":{obtained or repr(NOW)},'
        f'"extra":{extra}}}'
    )


#: (id, scheme, file text): each is unreadable or untrustworthy and must be a miss.
CORRUPT: list[tuple[str, str, str]] = [
    ("oauth1a-value-not-base64", "oauth1a", _raw("not base64 at all!", scheme="oauth1a")),
    ("oauth1a-value-bad-padding", "oauth1a", _raw("abc", scheme="oauth1a")),
    ("nested-50k", "oauth2", "[" * 50_000 + "]" * 50_000),
    ("nested-object-50k", "oauth2", '{"a":' * 50_000 + "1" + "}" * 50_000),
    ("nested-extra-20", "oauth2", _raw(extra='{"a":' * 20 + "1" + "}" * 20)),
    ("not-json", "oauth2", "{not json"),
    ("not-utf8", "oauth2", "\udcff"),
    ("list", "oauth2", "[1, 2]"),
    ("value-int", "oauth2", _raw(12345)),
    ("value-empty", "oauth2", _raw("")),
    ("value-with-newline", "oauth2", _raw("abc\r\nX-Injected: 1")),
    ("expires-string", "oauth2", _raw(expires='"soon"')),
    ("expires-infinity", "oauth2", _raw(expires="Infinity")),
    ("expires-nan", "oauth2", _raw(expires="NaN")),
    ("expires-bool", "oauth2", _raw(expires="true")),
    ("expires-1e308", "oauth2", _raw(expires="1e308")),
    ("lifetime-ten-years", "oauth2", _raw(expires=repr(NOW + 10 * 365 * 86400))),
    ("expires-before-obtained", "oauth2", _raw(expires=repr(NOW), obtained=repr(NOW + 10))),
    ("obtained-negative", "oauth2", _raw(obtained="-1")),
    ("extra-list", "oauth2", _raw(extra="[1]")),
    ("extra-access-expiry-infinity", "oauth2",
     _raw(extra='{"access_token":"a","access_expires_at":Infinity}')),
    ("scheme-int", "oauth2", _raw().replace('"scheme":"oauth2"', '"scheme":2')),
]


@pytest.mark.parametrize(("scheme", "text"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_entry_is_a_miss(tmp_path: Path, scheme: str, text: str) -> None:
    """Every damaged, deep or out-of-range entry loads as None instead of raising or being trusted."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store("warm", json.loads(_raw(GOOD_B64, scheme=scheme)))
    (tmp_path / "c" / f"{KEY}.json").write_text(text, encoding="utf-8", errors="surrogateescape")
    assert cache.load(KEY) is None
    assert cache.load("warm") is not None  # the good neighbour still loads


def test_entry_checks_accept_what_providers_write() -> None:
    """The entry checks pass real entries of both schemes (so they never force a refetch loop)."""
    assert valid_entry(json.loads(_raw("eyJhbGciOi.eyJzdWIi.sig")))
    assert valid_entry(json.loads(_raw(GOOD_B64, scheme="oauth1a")))
    assert valid_entry({**json.loads(_raw()), "state": {"session": {"n": 1.5}}})


def test_oversized_entry_is_a_miss(tmp_path: Path) -> None:
    """A planted multi-megabyte entry is not read into memory; it is a miss."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store("warm", json.loads(_raw()))
    (tmp_path / "c" / f"{KEY}.json").write_text(_raw("x" * (2 << 20)))
    assert cache.load(KEY) is None


@pytest.mark.parametrize("cred", ["sim_oauth1a", "sim_oauth2"])
@pytest.mark.parametrize("kind", ["not-base64", "nested", "infinity"])
def test_corrupt_entry_is_replaced_and_the_action_runs(sim_reset: Simulator, cred: str, kind: str) -> None:
    """With a corrupt entry under the credential's key, the next action fetches and rewrites it."""
    key = provider_for(sim_reset, cred).cache_key
    scheme = "oauth1a" if cred == "sim_oauth1a" else "oauth2"
    text = {
        "not-base64": _raw("!!not-base64!!", scheme=scheme),
        "nested": "[" * 50_000 + "]" * 50_000,
        "infinity": _raw(GOOD_B64, scheme=scheme, expires="Infinity"),
    }[kind]
    cache_dir = Path(os.environ["NOETL_IB_CACHE_DIR"])
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = cache_dir / f"{key}.json"
    path.write_text(text)
    result = act(sim_reset, cred, "get_positions")
    assert result["count"] >= 0
    entry = json.loads(path.read_text())
    assert valid_entry(entry) and entry["value"] not in text


def test_lock_path_that_is_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    """A `.lock` that cannot be opened (a directory) says to use the memory cache."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store(KEY, json.loads(_raw()))
    (tmp_path / "c" / f"{KEY}.lock").mkdir()
    with pytest.raises(ConfigurationError) as info, cache.lock(KEY):
        pass
    assert info.value.field == "NOETL_IB_CACHE_DIR"
    assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value)


def test_unwritable_entry_is_a_configuration_error(tmp_path: Path) -> None:
    """A store that cannot write (directory gone read-only under us) is a named ConfigurationError."""
    cache = FileTokenCache(tmp_path / "c")
    cache.store(KEY, json.loads(_raw()))
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories; the case cannot be built as root")
    os.chmod(tmp_path / "c", 0o500)
    try:
        with pytest.raises(ConfigurationError) as info:
            cache.store(KEY, json.loads(_raw()))
        assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value)
    finally:
        os.chmod(tmp_path / "c", 0o700)


class _FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_lock_held_by_another_process_times_out_with_a_clear_error(tmp_path: Path) -> None:
    """A `flock` held elsewhere ends the wait after lock_timeout with a TransientError naming the fix."""
    fake = _FakeTime()
    cache = FileTokenCache(tmp_path / "c", lock_timeout=5.0, sleep=fake.sleep,
                           monotonic=fake.monotonic)
    cache.store(KEY, json.loads(_raw()))
    holder = os.open(tmp_path / "c" / f"{KEY}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another open file description: conflicts like a process
        with pytest.raises(TransientError) as info, cache.lock(KEY):
            pytest.fail("entered a lock someone else holds")
        assert fake.now - 1000.0 >= 5.0 and fake.sleeps >= 5.0 / 0.05 - 1
        assert "NOETL_IB_TOKEN_CACHE=memory" in str(info.value) and "fuser" in str(info.value)
        fcntl.flock(holder, fcntl.LOCK_UN)
        with cache.lock(KEY):  # released: the next wait succeeds at once
            pass
    finally:
        os.close(holder)


@pytest.mark.parametrize("make", [lambda p: FileTokenCache(p, lock_timeout=0.2),
                                  lambda p: MemoryTokenCache(lock_timeout=0.2)],
                         ids=["file", "memory"])
def test_lock_held_by_another_thread_times_out(tmp_path: Path, make: object) -> None:
    """A thread that never releases the per-key lock makes other waiters fail, not hang."""
    cache = make(tmp_path / "c")  # type: ignore[operator]
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cache.lock(KEY):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(30)
    try:
        with pytest.raises(TransientError), cache.lock(KEY):
            pass
    finally:
        release.set()
        thread.join(30)
