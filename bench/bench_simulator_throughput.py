"""Simulator throughput: requests/s for one keep-alive client thread, bearer vs OAuth 1.0a HMAC.

Runs the simulator in a subprocess (pacing off) so client and server do not share a GIL, then
hammers an unpaced GET (/v1/api/iserver/accounts) for a bounded time per auth scheme and
prints one JSON object. Usage: python bench/simulator_throughput.py [--seconds 2] [--in-process]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import jwt
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PATH = "/v1/api/iserver/accounts"


def _key(pem: str) -> rsa.RSAPrivateKey:
    """Load a PEM private key."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@contextmanager
def simulator(in_process: bool) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """Start the simulator; yield its URL and credential data by record name."""
    if in_process:
        from noetl_ib_plugin.simulator import Simulator

        with Simulator(pacing=False) as sim:
            yield sim.url, {r["name"]: r["data"] for r in sim.credentials}
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "noetl_ib_plugin.simulator", "--no-pacing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        creds = json.loads(Path(ready["credentials_file"]).read_text())["credentials"]
        yield ready["url"], {r["name"]: r["data"] for r in creds}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def bearer_session(url: str, data: dict[str, Any]) -> requests.Session:
    """OAuth 2.0: token, SSO bearer, ssodh/init."""
    key, http, now = _key(data["private_key"]), requests.Session(), int(time.time())
    hdr = {"kid": data["key_id"]}
    assertion = jwt.encode(
        {
            "iss": data["client_id"],
            "sub": data["client_id"],
            "aud": "/token",
            "iat": now - 10,
            "exp": now + 20,
            "jti": str(uuid.uuid4()),
        },
        key,
        algorithm="RS256",
        headers=hdr,
    )
    token = http.post(
        f"{url}/oauth2/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "scope": "sso-sessions.write",
        },
        timeout=10,
    ).json()["access_token"]
    sso = jwt.encode(
        {
            "iss": data["client_id"],
            "credential": data["credential"],
            "iat": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
        },
        key,
        algorithm="RS256",
        headers=hdr,
    )
    bearer = http.post(
        f"{url}/gw/api/v1/sso-sessions",
        data=sso,
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/jwt"},
    ).json()
    http.headers["Authorization"] = f"Bearer {bearer['access_token']}"
    http.post(f"{url}/v1/api/iserver/auth/ssodh/init", json={"publish": True}, timeout=10)
    return http


def _base(method: str, url: str, params: dict[str, str], prepend: str = "") -> str:
    """IBKR's OAuth 1.0a base string."""
    joined = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{prepend}{method}&{quote_plus(url)}&{quote_plus(joined)}"


def _header(params: dict[str, str]) -> str:
    """OAuth Authorization header."""
    return 'OAuth realm="limited_poa", ' + ", ".join(f'{k}="{v}"' for k, v in sorted(params.items()))


def oauth1a_session(url: str, data: dict[str, Any]) -> requests.Session:
    """OAuth 1.0a: LST via DH, then an auth hook signing each request with HMAC-SHA256."""
    prepend = (
        _key(data["encryption_key"])
        .decrypt(base64.b64decode(data["access_token_secret"]), padding.PKCS1v15())
        .hex()
    )
    prime, a = int(data["dh_prime"], 16), secrets.randbits(256)
    params = {
        "oauth_consumer_key": data["consumer_key"],
        "oauth_nonce": secrets.token_hex(8),
        "oauth_signature_method": "RSA-SHA256",
        "oauth_timestamp": str(int(time.time())),
        "oauth_token": data["access_token"],
        "diffie_hellman_challenge": format(pow(2, a, prime), "x"),
    }
    lst_url = f"{url}/v1/api/oauth/live_session_token"
    sig = _key(data["signature_key"]).sign(
        _base("POST", lst_url, params, prepend).encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    params["oauth_signature"] = quote_plus(base64.b64encode(sig).decode())
    body = requests.post(lst_url, headers={"Authorization": _header(params)}, timeout=10).json()
    k = pow(int(body["diffie_hellman_response"], 16), a, prime)
    kb = k.to_bytes(k.bit_length() // 8 + 1, "big")
    lst = hmac.new(kb, bytes.fromhex(prepend), hashlib.sha1).digest()

    def sign(r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Sign one request."""
        assert r.method and r.url
        p = {
            "oauth_consumer_key": data["consumer_key"],
            "oauth_nonce": secrets.token_hex(8),
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": str(int(time.time())),
            "oauth_token": data["access_token"],
        }
        mac = hmac.new(lst, _base(r.method, r.url.split("?")[0], p).encode(), hashlib.sha256)
        p["oauth_signature"] = quote_plus(base64.b64encode(mac.digest()).decode())
        r.headers["Authorization"] = _header(p)
        return r

    http = requests.Session()
    http.auth = sign
    http.post(f"{url}/v1/api/iserver/auth/ssodh/init", json={"publish": True}, timeout=10)
    return http


def measure(call: Callable[[], requests.Response], seconds: float) -> dict[str, float]:
    """Call repeatedly for `seconds`; every answer must be 200."""
    for _ in range(20):
        assert call().status_code == 200
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        resp = call()
        if resp.status_code != 200:
            raise SystemExit(f"unexpected {resp.status_code}: {resp.text}")
        count += 1
    elapsed = time.perf_counter() - start
    return {"requests": count, "seconds": round(elapsed, 3), "requests_per_s": round(count / elapsed, 1)}


def main() -> None:
    """Run both schemes and print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    with simulator(args.in_process) as (url, creds):
        bearer = bearer_session(url, creds["sim_oauth2"])
        oauth1a = oauth1a_session(url, creds["sim_oauth1a"])
        result = {
            "endpoint": f"GET {PATH}",
            "server": "in-process" if args.in_process else "subprocess",
            "pacing": False,
            "oauth2_bearer": measure(lambda: bearer.get(url + PATH, timeout=10), args.seconds),
            "oauth1a_hmac": measure(lambda: oauth1a.get(url + PATH, timeout=10), args.seconds),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
