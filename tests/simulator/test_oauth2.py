"""OAuth 2.0 private_key_jwt and SSO bearer verification through real HTTP."""

from __future__ import annotations

import functools
import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from noetl_ib_plugin.simulator import SimKeys, Simulator

from .clients import OAuth2Client, Trader, load_private
from .conftest import records


@functools.cache
def _other_key() -> rsa.RSAPrivateKey:
    """A key the simulator has never seen, generated once per run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_happy_path_token_sso_and_trading(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """Token, SSO session and a trading call succeed; counters move."""
    resp = o2.token_response()
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86399
    assert body["scope"] == "sso-sessions.write"
    sso = o2.sso_response(body["access_token"])
    assert sso.status_code == 200 and sso.json()["active"] is True
    bearer = sso.json()["access_token"]
    claims = jwt.decode(bearer, options={"verify_signature": False})
    assert claims["exp"] <= time.time() + 86400 + 1
    t = Trader(sim_shared.url, "DU1234567", bearer=bearer).init()
    assert t.get("/iserver/accounts").json()["isPaper"] is True
    stats = sim_shared.stats()
    assert stats["oauth2_token_requests"] == 1 and stats["sso_session_requests"] == 1
    assert stats["ssodh_init_requests"] == 1


def test_full_url_audience_accepted(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """aud may be the full token URL instead of "/token"."""
    assertion = o2.assertion(aud=f"{sim_shared.url}/oauth2/api/v1/token")
    assert o2.token_response(assertion).status_code == 200


def test_rejects_wrong_key(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """An assertion signed by another key is a problem+json 401."""
    resp = o2.token_response(o2.assertion(key=_other_key()))
    assert resp.status_code == 401
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["title"] == "Unauthorized" and resp.json()["type"] == "/simple"
    assert sim_shared.stats()["auth_failures"] == 1


def test_rejects_expired_and_future_and_long_assertions(o2: OAuth2Client) -> None:
    """exp in the past, iat in the future, or an overly long lifetime are refused."""
    now = int(time.time())
    cases: list[dict[str, Any]] = [{"iat": now - 200, "exp": now - 100},
                                   {"iat": now + 300, "exp": now + 320},
                                   {"iat": now, "exp": now + 7200}]
    for claims in cases:
        assert o2.token_response(o2.assertion(**claims)).status_code == 401, claims


def test_rejects_replayed_jti(o2: OAuth2Client) -> None:
    """The same assertion (same jti) works only once."""
    assertion = o2.assertion()
    assert o2.token_response(assertion).status_code == 200
    resp = o2.token_response(assertion)
    assert resp.status_code == 401 and "jti" in resp.json()["detail"]


def test_rejects_wrong_aud_iss_sub(o2: OAuth2Client) -> None:
    """aud, iss and sub must match."""
    cases: tuple[dict[str, Any], ...] = ({"aud": "/nope"}, {"iss": "someone"}, {"sub": "someone"})
    for claims in cases:
        assert o2.token_response(o2.assertion(**claims)).status_code == 401, claims


def test_assertions_without_jti_are_accepted_like_ibkr(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """IBKR's own samples send no jti: both assertions work without one unless require_jti."""
    resp = o2.token_response(o2.assertion(jti=None))
    assert resp.status_code == 200, resp.text
    assert o2.sso_response(resp.json()["access_token"], jti=None).status_code == 200
    sim_shared.engine.auth.require_jti = True
    try:
        refused = o2.token_response(o2.assertion(jti=None))
        assert refused.status_code == 401 and "jti" in refused.json()["detail"]
        assert o2.sso_response(o2.access_token(), jti=None).status_code == 401
    finally:
        sim_shared.engine.auth.require_jti = False


def test_scope_must_be_ibkrs(o2: OAuth2Client) -> None:
    """scope sso-sessions.write (optionally with .read) is granted; any other scope is a 400."""
    ok = o2.token_response(scope="sso-sessions.write sso-sessions.read")
    assert ok.status_code == 200 and ok.json()["scope"] == "sso-sessions.write sso-sessions.read"
    for scope in ("sso-sessions.read", "openid", "sso-sessions.write admin"):
        bad = o2.token_response(scope=scope)
        assert bad.status_code == 400 and "scope" in bad.json()["detail"], scope


def test_ip_claim_checked_against_the_caller_when_enabled(sim_shared: Simulator,
                                                         o2: OAuth2Client) -> None:
    """check_ip: an ip claim other than the caller's address is refused; the caller's passes."""
    sim_shared.engine.auth.check_ip = True
    try:
        wrong = o2.sso_response(o2.access_token(), ip="203.0.113.9")
        assert wrong.status_code == 401 and "ip claim" in wrong.json()["detail"]
        assert o2.sso_response(o2.access_token(), ip="127.0.0.1").status_code == 200
        assert o2.sso_response(o2.access_token(), ip=None,
                               userIp="127.0.0.1").status_code == 200
    finally:
        sim_shared.engine.auth.check_ip = False


def test_rejects_non_rs256_and_unknown_kid(o2: OAuth2Client) -> None:
    """HS256 assertions and unknown key ids are refused."""
    assert o2.token_response(o2.assertion(alg="HS256")).status_code == 401
    assert o2.token_response(o2.assertion(headers={"kid": "other"})).status_code == 401


def test_malformed_request_is_400(o2: OAuth2Client) -> None:
    """Wrong grant type or missing assertion is a 400 problem."""
    assert o2.token_response(grant_type="password").status_code == 400
    resp = o2.token_response(client_assertion_type="x")
    assert resp.status_code == 400 and resp.json()["status"] == 400


def test_sso_requires_valid_access_token(o2: OAuth2Client) -> None:
    """A bogus access token cannot open an SSO session."""
    assert o2.sso_response("not-a-token").status_code == 401


def test_sso_checks_claims_key_and_content_type(o2: OAuth2Client) -> None:
    """credential, signing key, jti replay and Content-Type are enforced; userIp accepted."""
    access = o2.access_token()
    assert o2.sso_response(access, credential="mallory").status_code == 401
    assert o2.sso_response(access, key=_other_key()).status_code == 401
    assert o2.sso_response(access, content_type="application/json").status_code == 400
    assert o2.sso_response(access, jti="fixed-1").status_code == 200
    assert o2.sso_response(access, jti="fixed-1").status_code == 401
    assert o2.sso_response(access, ip=None, userIp="1.2.3.4", service="AM.LOGIN").status_code == 200


def test_bearer_expiry_is_the_minimum(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """The bearer expires at min(sso_ttl, assertion exp, access token expiry)."""
    sim_shared.token_ttl = 100
    access = o2.access_token()
    bearer = o2.sso_response(access).json()["access_token"]
    exp = jwt.decode(bearer, options={"verify_signature": False})["exp"]
    assert time.time() + 95 <= exp <= time.time() + 101
    bearer = o2.sso_response(access, exp=int(time.time()) + 50).json()["access_token"]
    assert jwt.decode(bearer, options={"verify_signature": False})["exp"] <= time.time() + 51


def test_trading_rejects_bad_bearer(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """Missing, forged or access-token bearers get 401 on trading endpoints."""
    forged = jwt.encode({"sub": "simuser2", "exp": int(time.time()) + 60}, "k" * 32,
                        algorithm="HS256")
    for auth in (None, f"Bearer {forged}", f"Bearer {o2.access_token()}"):
        headers = {"Authorization": auth} if auth else {}
        resp = requests.get(f"{sim_shared.url}/v1/api/tickle", headers=headers, timeout=5)
        assert resp.status_code == 401 and "error" in resp.json()


def test_expired_bearer_and_access_token(sim_keys: SimKeys) -> None:
    """With an injected clock, bearers and access tokens stop working after their lifetime."""
    offset = [0.0]
    with Simulator(pacing=False, keys=sim_keys, clock=lambda: time.time() + offset[0]) as s:
        data = records(s)["sim_oauth2"]
        client = OAuth2Client(s.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        s.sso_ttl = 60
        access = client.access_token()
        t = Trader(s.url, "DU1234567", bearer=client.sso_response(access).json()["access_token"])
        assert t.get("/tickle").status_code == 200
        offset[0] = 61
        assert t.get("/tickle").status_code == 401
        offset[0] = 86400
        assert client.sso_response(access).status_code == 401


def test_admin_revoke_kills_bearers(sim_shared: Simulator, trader: Trader) -> None:
    """POST /__sim/revoke makes current bearers fail with 401."""
    assert trader.get("/tickle").status_code == 200
    assert requests.post(f"{sim_shared.url}/__sim/revoke", timeout=5).json()["revoked"] >= 1
    assert trader.get("/tickle").status_code == 401
