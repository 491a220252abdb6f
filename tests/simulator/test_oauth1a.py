"""OAuth 1.0a live session token and HMAC request signing through real HTTP."""

from __future__ import annotations

import time

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from noetl_ib_plugin.simulator import SimKeys, Simulator

from .clients import OAuth1aClient, Trader
from .conftest import records


def test_lst_round_trip_and_signed_requests(sim_shared: Simulator, o1: OAuth1aClient) -> None:
    """The test-side client derives the same LST (signature checks) and its requests verify."""
    t = Trader(sim_shared.url, "DU7654321", oauth1a=o1).init()
    body = t.get("/iserver/accounts").json()
    assert body["accounts"] == ["DU7654321", "DU8765432"]  # its own, then the linked one
    assert body["selectedAccount"] == "DU7654321"
    assert sim_shared.stats()["lst_requests"] == 1


def test_tampered_hmac_rejected(sim_shared: Simulator, o1: OAuth1aClient) -> None:
    """A flipped bit in the HMAC gives 401."""
    url = f"{sim_shared.url}/v1/api/tickle"
    resp = requests.post(url, headers={"Authorization": o1.sign("POST", url, tamper=True)},
                         timeout=5)
    assert resp.status_code == 401 and resp.json()["statusCode"] == 401
    assert sim_shared.stats()["auth_failures"] == 1


def test_query_string_not_signed_and_host_ignored(sim_shared: Simulator, trader1a: Trader,
                                                  o1: OAuth1aClient) -> None:
    """Signing the URL without its query verifies; a foreign Host header changes nothing."""
    url = f"{sim_shared.url}/v1/api/iserver/secdef/search?symbol=AAPL&secType=STK"
    headers = {"Authorization": o1.sign("GET", url), "Host": "api.ibkr.com"}
    resp = trader1a.http.get(url, headers=headers, auth=lambda r: r, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()[0]["conid"] == "265598"


def test_stale_timestamp_and_replayed_nonce(sim_shared: Simulator, o1: OAuth1aClient) -> None:
    """A timestamp outside ±5 min is a clock-skew 401; a reused nonce is a 401."""
    url = f"{sim_shared.url}/v1/api/tickle"
    old = o1.sign("POST", url, timestamp=int(time.time()) - 900)
    resp = requests.post(url, headers={"Authorization": old}, timeout=5)
    assert resp.status_code == 401 and "clock skew" in resp.json()["error"]
    header = o1.sign("POST", url, nonce="samenonce123")
    assert requests.post(url, headers={"Authorization": header}, timeout=5).status_code == 200
    again = requests.post(url, headers={"Authorization": header}, timeout=5)
    assert again.status_code == 401 and "nonce" in again.json()["error"]


def test_lst_request_rejections(sim_shared: Simulator) -> None:
    """Wrong signature key, unknown consumer and stale timestamp fail the LST request."""
    data = dict(records(sim_shared)["sim_oauth1a"])
    client = OAuth1aClient(sim_shared.url, data)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resp, _ = client.lst_response(key=other)
    assert resp.status_code == 401
    resp, _ = client.lst_response(timestamp=int(time.time()) - 3600)
    assert resp.status_code == 401
    client.consumer_key = "NOTACONSU"
    resp, _ = client.lst_response()
    assert resp.json() == {"error": "id: 39687, error: invalid consumer", "statusCode": 401}


def test_lst_expiry_and_revocation(sim_keys: SimKeys) -> None:
    """An expired or revoked LST is refused; a new LST works again."""
    offset = [0.0]
    with Simulator(pacing=False, keys=sim_keys, clock=lambda: time.time() + offset[0]) as s:
        client = OAuth1aClient(s.url, records(s)["sim_oauth1a"])
        s.lst_ttl = 60
        client.obtain_lst()
        t = Trader(s.url, "DU7654321", oauth1a=client)
        assert t.get("/tickle").status_code == 200
        offset[0] = 61
        assert t.get("/tickle").status_code == 401
        offset[0] = 0
        client.obtain_lst()
        assert t.get("/tickle").status_code == 200
        s.revoke_all()
        assert t.get("/tickle").status_code == 401


def test_registered_consumer_with_encrypted_secret(sim_shared: Simulator) -> None:
    """register_oauth1a_consumer returns an encrypted secret a client can use end to end."""
    from noetl_ib_plugin.simulator.keys import new_rsa_key, private_pem, public_pem

    sig, enc = new_rsa_key(), new_rsa_key()
    secret = sim_shared.register_oauth1a_consumer(
        "MYCONSUMR", "tok123", public_pem(sig), "someone", "DU5550001",
        encryption_public_key_pem=public_pem(enc),
    )
    assert secret is not None
    client = OAuth1aClient(sim_shared.url, {
        "consumer_key": "MYCONSUMR", "access_token": "tok123", "access_token_secret": secret,
        "signature_key": private_pem(sig), "encryption_key": private_pem(enc),
        "dh_prime": records(sim_shared)["sim_oauth1a"]["dh_prime"],
    })
    client.obtain_lst()
    t = Trader(sim_shared.url, "DU5550001", oauth1a=client).init()
    assert t.get("/portfolio/DU5550001/summary").json()["accountcode"]["value"] == "DU5550001"
