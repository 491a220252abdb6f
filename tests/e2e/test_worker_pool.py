"""3 hosts x 4 step processes, all cold at once, against the simulator: one token, not one per step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import record_secrets

from .noetl_server import NoetlServer
from .test_entry import sim_record
from .worker_pool import figures, run_pool

HOSTS, PER_HOST = 3, 4


def test_cold_worker_pool_shares_tokens_through_the_keychain(
    sim_env: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step succeeds; at most one token per host (the claim usually makes it 1); no secret shared."""
    # The keychain API has no compare-and-set, so the honest bound is one fetch per host; the
    # figure this run gives is printed (bench/bench_worker_pool.py repeats it over rounds).
    monkeypatch.delenv("NOETL_IB_CREDENTIALS")
    server = NoetlServer().start()
    try:
        server.register({**sim_record(sim_env), "name": "ib_oauth", "type": "interactive_brokers_oauth"})
        result = run_pool(hosts=HOSTS, per_host=PER_HOST, work_dir=tmp_path, server_url=server.url,
                          credential="ib_oauth")
        got = figures(sim_env.stats(), result, HOSTS * PER_HOST)
        print(json.dumps(got))
        assert got["steps_ok"] == HOSTS * PER_HOST, [
            r.data or r.stderr[-500:] for rs in result.runs.values() for r in rs]
        assert 1 <= got["token_requests"] <= HOSTS
        assert got["sso_session_requests"] == got["token_requests"]
        if "kicks" in got and got["token_requests"] == 1:
            assert got["kicks"] == 0  # one token, one session: nobody to kick
        posted = json.dumps(server.keychain_posts)
        assert "PRIVATE KEY" not in posted
        assert all(s not in posted for s in record_secrets(sim_env.credentials_file))
        assert all(r.stderr == "" for rs in result.runs.values() for r in rs)
    finally:
        server.stop()
