"""DPoP (RFC 9449) through the application: the token endpoint binds tokens to the proof's key, the resources
(userinfo, the customer API, the MCP server) take them only with a fresh proof by that key, introspection tells
the binding; every refusal the RFC names, with proofs made by joserfc as a client makes them."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from starlette.testclient import TestClient

from hospes.config import Settings
from hospes.oauth import credentials, dpop
from tests.browserless import authorize, query_of

ISSUER = "http://127.0.0.1:8000"
TOKEN = "/oauth/token.php"
USERINFO = "/oauth/userinfo.php"


class Key:
    """A client's DPoP key, making proofs (RFC 9449 §4.2)."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.jkt = self.key.thumbprint()

    def proof(self, method: str, path: str, token: str | None = None, **claims: Any) -> str:
        body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": ISSUER + path,
                                "iat": int(time.time())}
        if token is not None:
            body["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        body.update(claims)
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return str(jws.serialize_compact(header, json.dumps(body).encode(), self.key))


def code_for(client: Any, acct: Any, cred: Any, scope: str = "openid offline_access", **extra: str) -> str:
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": scope, "state": "s", **extra}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    return query_of(r.headers["location"])["code"]


def token_request(client: Any, cred: Any, data: dict[str, str], proof: str | None = None) -> Any:
    headers = {"DPoP": proof} if proof is not None else {}
    return client.post(TOKEN, data=data, headers=headers, auth=(cred.client_id, cred.client_secret))


def bound_tokens(client: Any, acct: Any, cred: Any, key: Key, scope: str = "openid offline_access") -> dict[str, Any]:
    code = code_for(client, acct, cred, scope)
    r = token_request(client, cred, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": cred.redirect_uri}, key.proof("POST", TOKEN))
    assert r.status_code == 200, r.text
    return dict(r.json())


def userinfo(client: Any, token: str, proof: str | None, scheme: str = "DPoP") -> Any:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return client.get(USERINFO, headers=headers)


def dpop_refusal(r: Any, error: str = "invalid_dpop_proof") -> str:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == error
    challenge = r.headers["www-authenticate"]
    # RFC 9449 §7.1: the DPoP scheme, the error, the algorithms accepted.
    assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge and 'algs="ES256' in challenge
    return challenge


@pytest.fixture
def cred(make_credential: Any) -> Any:
    return make_credential(scope="openid profile email services:read", refresh_token_policy="always")


def test_a_proof_binds_the_access_token_and_userinfo_takes_it_with_a_fresh_proof(client, make_account, cred):
    acct, key = make_account(), Key()
    body = bound_tokens(client, acct, cred, key)
    assert body["token_type"] == "DPoP"  # RFC 9449 §5
    at = body["access_token"]
    proof = key.proof("GET", USERINFO, at)
    r = userinfo(client, at, proof)
    assert r.status_code == 200 and r.json()["sub"]
    # §11.1: the same proof again is a replay.
    dpop_refusal(userinfo(client, at, proof))
    # §7.2: a bound token as a bearer token is refused.
    r = userinfo(client, at, None, scheme="Bearer")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = client.get(USERINFO, params={"access_token": at})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # No proof with the DPoP scheme; a proof by another key; one without ath or with another token's.
    dpop_refusal(userinfo(client, at, None))
    dpop_refusal(userinfo(client, at, Key().proof("GET", USERINFO, at)))
    dpop_refusal(userinfo(client, at, key.proof("GET", USERINFO)))
    dpop_refusal(userinfo(client, at, key.proof("GET", USERINFO, "another token")))
    # §4.3: the method, the URL, the time.
    dpop_refusal(userinfo(client, at, key.proof("POST", USERINFO, at)))
    dpop_refusal(userinfo(client, at, key.proof("GET", "/oauth/userinfo", at)))
    dpop_refusal(userinfo(client, at, key.proof("GET", USERINFO, at, htu="https://127.0.0.1:8000" + USERINFO)))
    dpop_refusal(userinfo(client, at, key.proof("GET", USERINFO, at, iat=int(time.time()) - dpop.IAT_PAST - 10)))
    # Two DPoP headers (§4.3 item 1).
    r = client.get(USERINFO, headers=[("Authorization", f"DPoP {at}"), ("DPoP", key.proof("GET", USERINFO, at)),
                                      ("DPoP", key.proof("GET", USERINFO, at))])
    dpop_refusal(r)
    # The query is not part of htu (§4.3 item 9).
    r = client.get(USERINFO + "?x=1", headers={"Authorization": f"DPoP {at}", "DPoP": key.proof("GET", USERINFO, at)})
    assert r.status_code == 200


def test_a_bearer_token_is_not_taken_with_the_dpop_scheme(client, make_account, cred):
    acct, key = make_account(), Key()
    code = code_for(client, acct, cred)
    r = token_request(client, cred, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": cred.redirect_uri})
    assert r.json()["token_type"] == "Bearer"
    at = r.json()["access_token"]
    r = userinfo(client, at, key.proof("GET", USERINFO, at))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert userinfo(client, at, None, scheme="Bearer").status_code == 200


def test_an_invalid_proof_at_the_token_endpoint_is_invalid_dpop_proof_and_uses_nothing(client, make_account, cred):
    acct, key = make_account(), Key()
    code = code_for(client, acct, cred)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
    for bad in (key.proof("GET", TOKEN), key.proof("POST", USERINFO), "not.a.proof",
                key.proof("POST", TOKEN, iat=int(time.time()) + 3600)):
        r = token_request(client, cred, data, bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    proof = key.proof("POST", TOKEN)
    r = token_request(client, cred, data, proof)
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    # The code is used now; the proof is too (its jti).
    assert token_request(client, cred, data, proof).json()["error"] == "invalid_dpop_proof"


def test_introspection_tells_the_binding(client, make_account, cred):
    acct, key = make_account(), Key()
    at = bound_tokens(client, acct, cred, key)["access_token"]
    r = client.post("/oauth/introspect", data={"token": at}, auth=(cred.client_id, cred.client_secret))
    body = r.json()
    assert body["active"] and body["token_type"] == "DPoP" and body["cnf"] == {"jkt": key.jkt}  # RFC 9449 §6.2


def test_a_confidential_clients_refresh_token_is_not_bound_but_its_access_tokens_are(client, make_account, cred):
    acct, key = make_account(), Key()
    rt = bound_tokens(client, acct, cred, key)["refresh_token"]
    # RFC 9449 §5: a confidential client's refresh token is bound by its authentication; refreshed without a
    # proof, a bearer token; with one (any key), a token bound to that key.
    r = token_request(client, cred, {"grant_type": "refresh_token", "refresh_token": rt})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    other = Key()
    r = token_request(client, cred, {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]},
                      other.proof("POST", TOKEN))
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    at = r.json()["access_token"]
    assert userinfo(client, at, other.proof("GET", USERINFO, at)).status_code == 200


def test_a_public_clients_refresh_token_is_bound_to_the_key(client, db, make_account):
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid offline_access", name="SPA",
                                  public=True, redirect_uris=["https://spa.example.com/cb"],
                                  refresh_token_policy="always")
    spa = type("Spa", (), {"client_id": made.client_identifier, "redirect_uri": "https://spa.example.com/cb"})
    acct, key = make_account(), Key()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = code_for(client, acct, spa, code_challenge=challenge, code_challenge_method="S256")
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code, "client_id": spa.client_id,
                                 "redirect_uri": spa.redirect_uri, "code_verifier": verifier},
                    headers={"DPoP": key.proof("POST", TOKEN)})
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text
    rt = r.json()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": rt, "client_id": spa.client_id}
    # RFC 9449 §5: only a proof by the same key refreshes it.
    r = client.post(TOKEN, data=data)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = client.post(TOKEN, data=data, headers={"DPoP": Key().proof("POST", TOKEN)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = client.post(TOKEN, data=data, headers={"DPoP": key.proof("POST", TOKEN)})
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    # The rotated refresh token is bound as well.
    r = client.post(TOKEN, data={**data, "refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_a_dpop_bound_credential_gets_no_token_without_a_proof(client, make_account, make_credential):
    cred = make_credential(scope="openid offline_access", refresh_token_policy="always", dpop_bound=True)
    acct, key = make_account(), Key()
    code = code_for(client, acct, cred)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
    r = token_request(client, cred, data)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"  # RFC 9449 §5.2
    r = token_request(client, cred, data, key.proof("POST", TOKEN))  # the code was left for the corrected request
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    r = token_request(client, cred, {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_dpop_jkt_binds_the_code_to_the_key(client, make_account, cred):
    acct, key = make_account(), Key()
    code = code_for(client, acct, cred, dpop_jkt=key.jkt)  # RFC 9449 §10
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
    assert token_request(client, cred, data).json()["error"] == "invalid_grant"
    assert token_request(client, cred, data, Key().proof("POST", TOKEN)).json()["error"] == "invalid_grant"
    r = token_request(client, cred, data, key.proof("POST", TOKEN))
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"


def test_a_malformed_dpop_jkt_is_invalid_request(client, make_account, cred):
    acct = make_account()
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": "openid", "state": "s", "dpop_jkt": "short"}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert query_of(r.headers["location"])["error"] == "invalid_request"


def test_the_sso_grant_refuses_a_proof_it_cannot_bind(client, make_service, make_account, db):
    acct = make_account()
    service = make_service(acct.client_id)
    with db.transaction() as s:
        made = credentials.create(s, grant_type="single_sign_on", scope="clientarea:sso", service_id=service)
    r = client.post(TOKEN, data={"grant_type": "single_sign_on", "client_id": made.client_identifier,
                                 "client_secret": made.client_secret, "scope": "clientarea:sso"},
                    headers={"DPoP": Key().proof("POST", TOKEN)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_the_customer_api_and_the_mcp_server_take_dpop_bound_tokens(client, make_account, make_service, cred):
    acct, key = make_account(), Key()
    make_service(acct.client_id)
    at = bound_tokens(client, acct, cred, key, "openid services:read")["access_token"]
    path = "/api/v1/services"
    r = client.get(path, headers={"Authorization": f"DPoP {at}", "DPoP": key.proof("GET", path, at)})
    assert r.status_code == 200 and len(r.json()["data"]) == 1
    r = client.get(path, headers={"Authorization": f"Bearer {at}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    proof = key.proof("GET", path, at)
    assert client.get(path, headers={"Authorization": f"DPoP {at}", "DPoP": proof}).status_code == 200
    r = client.get(path, headers={"Authorization": f"DPoP {at}", "DPoP": proof})
    challenge = dpop_refusal(r)
    assert "resource_metadata=" in challenge
    r = client.get(path, headers={"Authorization": f"DPoP {at}", "DPoP": key.proof("GET", "/api/v1/domains", at)})
    dpop_refusal(r)


def test_a_dpop_bound_token_at_the_mcp_server(client, make_account, make_service, cred):
    acct, key = make_account(), Key()
    make_service(acct.client_id)
    code = code_for(client, acct, cred, "services:read", resource=ISSUER + "/mcp")  # RFC 8707
    r = token_request(client, cred, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": cred.redirect_uri}, key.proof("POST", TOKEN))
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text
    at = r.json()["access_token"]
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_services", "arguments": {}}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    r = client.post("/mcp", json=call, headers={**headers, "Authorization": f"DPoP {at}",
                                                 "DPoP": key.proof("POST", "/mcp", at)})
    assert r.status_code == 200, r.text
    r = client.post("/mcp", json=call, headers={**headers, "Authorization": f"Bearer {at}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = client.post("/mcp", json=call, headers={**headers, "Authorization": f"DPoP {at}",
                                                 "DPoP": key.proof("GET", "/mcp", at)})
    dpop_refusal(r)


@pytest.fixture
def nonce_client(settings: Settings, db: Any) -> Any:
    from hospes.app import create_app

    with TestClient(create_app(settings.model_copy(update={"dpop_nonce": "always"})), base_url=ISSUER,
                    follow_redirects=False) as c:
        yield c


def test_server_nonces_when_required(nonce_client, make_account, cred):
    client, acct, key = nonce_client, make_account(), Key()
    code = code_for(client, acct, cred)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
    # RFC 9449 §8: use_dpop_nonce with the nonce to use; the retry with it succeeds and carries the next one.
    r = token_request(client, cred, data, key.proof("POST", TOKEN))
    assert r.status_code == 400 and r.json()["error"] == "use_dpop_nonce"
    nonce = r.headers["dpop-nonce"]
    r = token_request(client, cred, data, key.proof("POST", TOKEN, nonce=nonce))
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP" and r.headers["dpop-nonce"]
    at = r.json()["access_token"]
    # §9: the resource's way, 401 with a DPoP challenge.
    r = userinfo(client, at, key.proof("GET", USERINFO, at))
    dpop_refusal(r, "use_dpop_nonce")
    r = userinfo(client, at, key.proof("GET", USERINFO, at, nonce=r.headers["dpop-nonce"]))
    assert r.status_code == 200
    r = userinfo(client, at, key.proof("GET", USERINFO, at, nonce="not-the-servers"))
    dpop_refusal(r, "use_dpop_nonce")


def test_a_replayed_proof_is_refused_by_another_node(settings, db, make_account, cred):
    """Two application instances (two nodes: each its own engine, pool and lookups) on one database."""
    from hospes.app import create_app

    acct, key = make_account(), Key()
    with TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as a, \
            TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as b:
        at = bound_tokens(a, acct, cred, key)["access_token"]
        proof = key.proof("GET", USERINFO, at)
        assert userinfo(a, at, proof).status_code == 200
        dpop_refusal(userinfo(b, at, proof))
        # At the token endpoint as well: a proof used on one node is refused on the other.
        code = code_for(a, acct, cred)
        token_proof = key.proof("POST", TOKEN)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
        assert token_request(a, cred, data, token_proof).status_code == 200
        code = code_for(a, acct, cred)
        r = token_request(b, cred, {**data, "code": code}, token_proof)
        assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_discovery_advertises_the_algorithms(client):
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["dpop_signing_alg_values_supported"] == list(dpop.ALGS)
    assert "none" not in doc["dpop_signing_alg_values_supported"]
