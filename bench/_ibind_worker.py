"""Runs inside a throw-away venv holding ibind 0.2.2: CPU per GET of ibind's client, on request.

Started by bench_client_overhead.py with one JSON argument (the simulator's API base URL, the
OAuth 1.0a record's data, a bearer token, the path and the calls per round). It builds ibind's
`IbkrClient` twice -- OAuth 1.0a (ibind's own LST request and HMAC signing) and plain with the
bearer added by `_get_headers` (ibind 0.2.2 has no OAuth 2.0) -- then answers each line on stdin
with one JSON line: CPU seconds per call of each variant for that round. This file imports only
ibind and the standard library (it runs in ibind's venv, not ours).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> None:
    """Build both clients, then time one round per stdin line."""
    from ibind import IbkrClient  # type: ignore[import-not-found,unused-ignore]
    from ibind.oauth.oauth1a import OAuth1aConfig  # type: ignore[import-not-found,unused-ignore]

    cfg: dict[str, Any] = json.loads(sys.argv[1])
    base = cfg["api_base_url"].rstrip("/") + "/"
    data = cfg["oauth1a"]
    oauth = OAuth1aConfig(
        oauth_rest_url=base, live_session_token_endpoint="oauth/live_session_token",
        access_token=data["access_token"], access_token_secret=data["access_token_secret"],
        consumer_key=data["consumer_key"], dh_prime=data["dh_prime"],
        dh_generator=str(data.get("dh_generator", 2)), realm=data.get("realm", "limited_poa"),
        encryption_key=data["encryption_key"], signature_key=data["signature_key"],
        init_oauth=True, init_brokerage_session=True, maintain_oauth=False, shutdown_oauth=False,
    )
    signed = IbkrClient(url=base, use_oauth=True, oauth_config=oauth,
                        auto_register_shutdown=False, timeout=30)
    bearer = "Bearer " + cfg["bearer"]

    class BearerClient(IbkrClient):  # type: ignore[misc,unused-ignore]
        def _get_headers(self, request_method: str, request_url: str) -> dict[str, str]:
            return {"Authorization": bearer}

    plain = BearerClient(url=base, cacert=False, auto_register_shutdown=False, timeout=30)
    path = cfg["path"].lstrip("/")
    variants = {"ibind_oauth1a_hmac": signed, "ibind_bearer": plain}
    for client in variants.values():
        client.get(path)
    print(json.dumps({"ready": True}), flush=True)
    for _ in sys.stdin:
        out = {}
        for name, client in variants.items():
            start = time.process_time()
            for _ in range(cfg["calls"]):
                client.get(path)
            out[name] = (time.process_time() - start) / cfg["calls"]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
