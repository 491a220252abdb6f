"""Tokens replaced while calls are in flight: no call fails, each token opens one session."""

from __future__ import annotations

import threading
import time

from noetl_ib_plugin import IBClient, get_token_provider, load_credential
from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.testing import running_simulator


def test_concurrent_calls_across_token_refreshes_all_succeed() -> None:
    """8 threads over several 2 s token lifetimes: zero errors, one ssodh/init per SSO session."""
    with running_simulator(pacing=False, token_ttl=2) as sim_reset:
        record = load_credential("sim_oauth2", sim_reset.credentials_file)
        provider = get_token_provider(record)
        provider._cache = MemoryTokenCache()  # keep this test's tokens out of the shared cache
        client = IBClient(provider, pacer=False)
        errors: list[str] = []
        deadline = time.monotonic() + 5.0

        def work() -> None:
            while time.monotonic() < deadline:
                try:
                    client.get("/iserver/accounts")
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.005)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = sim_reset.stats()
    assert errors == []
    assert stats["sso_session_requests"] >= 3  # the tokens really were replaced mid-run
    assert stats["ssodh_init_requests"] <= stats["sso_session_requests"] + 2
    assert stats["auth_failures"] == 0
