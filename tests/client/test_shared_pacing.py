"""Pacing shared across processes through the cache directory, 429 handling, lock timeouts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from noetl_ib_plugin.client.pacing import FilePacer, Limit, Pacer
from noetl_ib_plugin.common.file_lock import file_lock
from noetl_ib_plugin.errors import TransientError
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings

from .fakes import FakeClock


def _pacers(path: Path, clock: FakeClock, **limits: Limit) -> tuple[FilePacer, FilePacer]:
    """Two pacers on one file: what two processes of one credential have."""
    return (FilePacer(path, limits, clock=clock, sleep=clock.sleep, margin=0, slack=0),
            FilePacer(path, limits, clock=clock, sleep=clock.sleep, margin=0, slack=0))


def test_two_processes_share_one_window(tmp_path: Path) -> None:
    """Live orders are 1 per 5 s per username: the second process's request waits 5 s."""
    clock = FakeClock()
    first, second = _pacers(tmp_path / "k-pacing.json", clock)
    assert first.acquire("GET", "/iserver/account/orders") == 0.0
    assert second.acquire("GET", "/iserver/account/orders") == pytest.approx(5.0)
    assert first.acquire("GET", "/iserver/secdef/search") == 0.0
    assert second.acquire("GET", "/iserver/account/orders") == pytest.approx(5.0)


def test_global_window_counts_every_process(tmp_path: Path) -> None:
    """With a global limit of 3/s, the fourth request of either process waits for the window."""
    clock = FakeClock()
    first, second = _pacers(tmp_path / "k-pacing.json", clock, **{"global": Limit(3, 1.0)})
    assert [first.acquire("GET", "/x"), second.acquire("GET", "/x"),
            first.acquire("GET", "/x")] == [0.0, 0.0, 0.0]
    assert second.acquire("GET", "/x") == pytest.approx(1.0)


def test_a_429_waits_the_endpoint_window_out(tmp_path: Path) -> None:
    """After a 429 the endpoint's next request waits its whole window; other endpoints do not."""
    local_clock, clock = FakeClock(), FakeClock()
    local = Pacer(clock=local_clock, sleep=local_clock.sleep, margin=0, slack=0)
    shared, other = _pacers(tmp_path / "k-pacing.json", clock)
    local.note_rate_limited("GET", "/iserver/marketdata/snapshot")
    shared.note_rate_limited("GET", "/iserver/marketdata/snapshot")
    assert local.acquire("GET", "/iserver/marketdata/snapshot") == pytest.approx(1.0)
    assert other.acquire("GET", "/iserver/secdef/search") == 0.0
    assert other.acquire("GET", "/iserver/marketdata/snapshot") == pytest.approx(1.0)


def test_damaged_pacing_file_is_an_empty_history(tmp_path: Path) -> None:
    """A garbled pacing file never blocks or crashes a request."""
    path = tmp_path / "k-pacing.json"
    path.write_text("{not json")
    clock = FakeClock()
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep)
    assert pacer.acquire("GET", "/iserver/account/orders") == 0.0


@pytest.mark.parametrize("ahead", [3600.0, 1e9, 1e308, float("nan"), float("inf")])
def test_send_times_from_the_future_do_not_block(tmp_path: Path, ahead: float) -> None:
    """Times ahead of the clock (it stepped back, or a planted file) cost at most one window."""
    import json

    clock = FakeClock()
    path = tmp_path / "k-pacing.json"
    times = [clock() + ahead] * 60
    path.write_text(json.dumps({"v": 1, "sent": {"global": times, "snapshot": times}}))
    pacer = FilePacer(path, clock=clock, sleep=clock.sleep)
    # Counted as sent now (never hours, never forever): the snapshot window is 1 s.
    assert pacer.acquire("GET", "/iserver/marketdata/snapshot") <= 1.1  # window + safety margin
    # a time just sent by another process (not ahead of the clock) still counts
    first, second = _pacers(tmp_path / "k2-pacing.json", clock)
    assert first.acquire("GET", "/iserver/account/orders") == 0.0
    assert second.acquire("GET", "/iserver/account/orders") == pytest.approx(5.0)


def test_shared_pacer_uses_the_cache_directory(tmp_path: Path) -> None:
    """A host's pacer with a directory is a FilePacer on <key>-pacing.json, one per directory."""
    host = Host(Settings(cache_dir=tmp_path))
    pacer = host.pacer("abc123", tmp_path)
    assert isinstance(pacer, FilePacer) and pacer.path == tmp_path / "abc123-pacing.json"
    assert host.pacer("abc123", tmp_path) is pacer
    assert not isinstance(host.pacer("abc123", None), FilePacer)


def test_lock_wait_times_out_with_a_typed_error(tmp_path: Path) -> None:
    """Another holder of the lock makes the wait end after `timeout` with TransientError."""
    path = tmp_path / "k.lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        """Hold the lock until told to let go."""
        with file_lock(path):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(30)
        clock = FakeClock()
        with pytest.raises(TransientError) as info, file_lock(path, timeout=0.0, clock=clock,
                                                              sleep=clock.sleep):
            pass
        assert "k.lock" in str(info.value) and "delete" in str(info.value)
    finally:
        release.set()
        thread.join(30)
    with file_lock(path, timeout=5):
        pass
