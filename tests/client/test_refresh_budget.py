"""One token refresh per API call, whatever "no bridge" re-opens happen in between."""

from __future__ import annotations

import pytest
import responses

from noetl_ib_plugin.errors import AuthError

from .fakes import BASE, FakeProvider, add_bootstrap, calls_to, make_client


@responses.activate
def test_401_after_a_no_bridge_reopen_does_not_refresh_a_second_time() -> None:
    """401, refresh, "no bridge", reopen, 401 again: AuthError with one refresh, as before the split."""
    provider = FakeProvider()
    client = make_client(provider)
    add_bootstrap(responses)
    responses.add(responses.POST, f"{BASE}/iserver/auth/status",
                  json={"authenticated": True, "connected": True, "competing": False})
    search = f"{BASE}/iserver/secdef/search"
    responses.add(responses.GET, search, status=401, json={"error": "invalid token"})
    responses.add(responses.GET, search, status=400,
                  json={"error": "Bad Request: no bridge", "statusCode": 400})
    responses.add(responses.GET, search, status=401, json={"error": "invalid token"})
    responses.add(responses.GET, search, json=[{"conid": "1"}])
    with pytest.raises(AuthError):
        client.get("/iserver/secdef/search", params={"symbol": "A"})
    assert provider.fetches == 2  # the first token and one refresh
    assert calls_to(responses, "/iserver/secdef/search") == 3
