"""Pushed authorization requests (RFC 9126) as a client and a person see them: the PAR endpoint's answers and
refusals, the authorization endpoint with a request_uri (one use, its own client, not after expiry, the query
ignored but client_id), a client or server that requires PAR, and a DPoP proof with the push (RFC 9449 §10.1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from hospes.clock import now
from hospes.config import load_settings
from hospes.oauth import par, pkce
from hospes.store.models import PushedAuthorizationRequest
from tests.browserless import authorize, query_of
from tests.oauth.test_authorize import assert_client_error, assert_error_page, is_login_page
from tests.oauth.test_dpop_flow import TOKEN, Key, token_request
from tests.oauth.test_token import exchange

PAR = "/oauth/par"
AUTHZ = "/oauth/authorize.php"
VERIFIER = "v" * 43


def request_params(cred: Any, **extra: Any) -> dict[str, str]:
    params = {"response_type": "code", "redirect_uri": cred.redirect_uri, "scope": "openid email",
              "state": "pushed-state", "nonce": "n-1", "code_challenge": pkce.s256(VERIFIER),
              "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def push(client: Any, cred: Any, *, dpop: str | None = None, **extra: Any) -> Any:
    headers = {"DPoP": dpop} if dpop is not None else {}
    return client.post(PAR, data=request_params(cred, **extra), headers=headers,
                       auth=(cred.client_id, cred.client_secret))


def pushed_uri(client: Any, cred: Any, *, dpop: str | None = None, **extra: Any) -> str:
    r = push(client, cred, dpop=dpop, **extra)
    assert r.status_code == 201, r.text
    return str(r.json()["request_uri"])


def authz_with(client_id: str, request_uri: str, **extra: str) -> str:
    return AUTHZ + "?" + urlencode({"client_id": client_id, "request_uri": request_uri, **extra})


def assert_json_error(r: Any, error: str, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "no-store" in r.headers["cache-control"]
    body = r.json()
    assert body["error"] == error, body
    assert "request_uri" not in body
    return dict(body)


@pytest.fixture
def cred(make_credential: Any) -> Any:
    return make_credential(scope="openid profile email offline_access")


def test_a_pushed_request_is_answered_with_a_short_lived_request_uri(client, cred):
    r = push(client, cred)
    assert r.status_code == 201, r.text
    assert "no-store" in r.headers["cache-control"]
    body = r.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert len(body["request_uri"]) > len(par.PREFIX) + 40  # 256 random bits
    assert body["expires_in"] == 60


def test_the_pushed_request_is_what_is_authorized_and_the_query_is_ignored(client, make_account, cred):
    acct = make_account()
    uri = pushed_uri(client, cred)
    # RFC 9126 §4: only client_id and request_uri count; these would change the request if read.
    r = authorize(client, authz_with(cred.client_id, uri, scope="openid profile", state="other",
                                     redirect_uri="https://evil.example.com/cb"), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    assert location.startswith(cred.redirect_uri + "?")
    q = query_of(location)
    assert q["state"] == "pushed-state"
    tok = exchange(client, cred, q["code"], code_verifier=VERIFIER)
    assert tok.status_code == 200, tok.text
    assert set(tok.json()["scope"].split()) == {"openid", "email"}


def test_a_request_uri_is_used_once(client, cred):
    uri = pushed_uri(client, cred)
    first = client.get(authz_with(cred.client_id, uri))
    assert is_login_page(first)
    again = client.get(authz_with(cred.client_id, uri))
    assert_error_page(again, "invalid_request_uri")


def test_an_expired_request_uri_is_refused(client, db, cred):
    uri = pushed_uri(client, cred)
    with db.transaction() as s:
        s.execute(update(PushedAuthorizationRequest).values(expires_at=now() - timedelta(seconds=1)))
    assert_error_page(client.get(authz_with(cred.client_id, uri)), "invalid_request_uri")


def test_another_clients_request_uri_is_refused_and_stays_its_own(client, make_credential, cred):
    other = make_credential(redirect_uri="https://other.example.com/cb")
    uri = pushed_uri(client, cred)
    assert_error_page(client.get(authz_with(other.client_id, uri)), "invalid_request_uri")
    assert_error_page(client.get(AUTHZ + "?" + urlencode({"request_uri": uri})), "invalid_request")
    assert is_login_page(client.get(authz_with(cred.client_id, uri)))


def test_an_unknown_request_uri_is_refused(client, cred):
    assert_error_page(client.get(authz_with(cred.client_id, par.PREFIX + "made-up")), "invalid_request_uri")


def test_the_par_endpoint_authenticates_the_client_as_the_token_endpoint(client, cred):
    data = request_params(cred)
    wrong = client.post(PAR, data=data, auth=(cred.client_id, "wrong"))
    assert_json_error(wrong, "invalid_client", 401)
    assert wrong.headers["www-authenticate"].startswith("Basic")
    # A confidential client that does not authenticate.
    assert_json_error(client.post(PAR, data={**data, "client_id": cred.client_id}), "invalid_client", 401)
    # client_secret_post does.
    r = client.post(PAR, data={**data, "client_id": cred.client_id, "client_secret": cred.client_secret})
    assert r.status_code == 201, r.text
    # RFC 6749 §2.3: one method at a time.
    both = client.post(PAR, data={**data, "client_secret": cred.client_secret},
                       auth=(cred.client_id, cred.client_secret))
    assert_json_error(both, "invalid_request")


def test_a_public_client_pushes_with_its_client_id_and_pkce(client, make_account, make_credential):
    public = make_credential(public=True)
    acct = make_account()
    no_pkce = client.post(PAR, data={**request_params(public, code_challenge=None, code_challenge_method=None),
                                     "client_id": public.client_id})
    assert_json_error(no_pkce, "invalid_request")
    r = client.post(PAR, data={**request_params(public), "client_id": public.client_id})
    assert r.status_code == 201, r.text
    back = authorize(client, authz_with(public.client_id, r.json()["request_uri"]), acct.email, acct.password)
    assert query_of(back.headers["location"])["code"]


def test_the_authorization_endpoints_rules_refuse_a_bad_pushed_request_as_json(client, cred):
    assert_json_error(push(client, cred, redirect_uri="https://evil.example.com/cb"), "invalid_request")
    assert_json_error(push(client, cred, response_type="token"), "unsupported_response_type")
    assert_json_error(push(client, cred, scope="clientarea:billing_info nonsense"), "invalid_scope")
    assert_json_error(push(client, cred, prompt="none login"), "invalid_request")
    # RFC 9126 §2.1: a request_uri is never pushed.
    assert_json_error(push(client, cred, request_uri=par.PREFIX + "x"), "invalid_request")


def test_the_par_endpoint_takes_post_only(client):
    r = client.get(PAR)
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]


def test_discovery_names_the_endpoint(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["pushed_authorization_request_endpoint"] == "http://127.0.0.1:8000/oauth/par"
    assert meta["require_pushed_authorization_requests"] is False


@pytest.fixture
def par_required(settings: Any, db: Any) -> Any:
    required = load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                             secret_key=settings.secret_key, require_par=True)
    from hospes.app import create_app

    with TestClient(create_app(required), base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        yield c


def test_a_server_that_requires_par_refuses_a_plain_authorization_request(par_required, make_account, cred):
    client = par_required
    assert client.get("/.well-known/openid-configuration").json()["require_pushed_authorization_requests"] is True
    plain = AUTHZ + "?" + urlencode({**request_params(cred), "client_id": cred.client_id})
    assert_client_error(client.get(plain), cred, "invalid_request", state="pushed-state")
    acct = make_account()
    r = authorize(client, authz_with(cred.client_id, pushed_uri(client, cred)), acct.email, acct.password)
    assert query_of(r.headers["location"])["code"]


def test_a_credential_that_requires_par_is_refused_without_it(client, make_account, make_credential):
    strict = make_credential(require_par=True)
    plain = AUTHZ + "?" + urlencode({**request_params(strict), "client_id": strict.client_id})
    assert_client_error(client.get(plain), strict, "invalid_request", state="pushed-state")
    acct = make_account()
    r = authorize(client, authz_with(strict.client_id, pushed_uri(client, strict)), acct.email, acct.password)
    assert query_of(r.headers["location"])["code"]
    # The server as a whole does not require it: another client is not refused.
    assert client.get("/.well-known/openid-configuration").json()["require_pushed_authorization_requests"] is False


# -- DPoP with the push (RFC 9449 §10.1) ------------------------------------------------------------------


def code_of(client: Any, acct: Any, cred: Any, request_uri: str) -> str:
    r = authorize(client, authz_with(cred.client_id, request_uri), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    return query_of(r.headers["location"])["code"]


def test_a_proof_with_the_push_binds_the_code_to_its_key(client, make_account, cred):
    acct, key = make_account(), Key()
    proof = key.proof("POST", PAR)
    uri = pushed_uri(client, cred, dpop=proof)
    # RFC 9449 §11.1: the proof is used once.
    assert_json_error(push(client, cred, dpop=proof), "invalid_dpop_proof")
    code = code_of(client, acct, cred, uri)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri,
            "code_verifier": VERIFIER}
    # As if dpop_jkt had been pushed: no proof, or another key's, is refused, and the code stays for the right one.
    assert_json_error(token_request(client, cred, data), "invalid_grant")
    assert_json_error(token_request(client, cred, data, Key().proof("POST", TOKEN)), "invalid_grant")
    r = token_request(client, cred, data, key.proof("POST", TOKEN))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"


def test_a_push_without_a_proof_binds_nothing(client, make_account, cred):
    acct = make_account()
    code = code_of(client, acct, cred, pushed_uri(client, cred))
    tok = exchange(client, cred, code, code_verifier=VERIFIER)
    assert tok.status_code == 200, tok.text
    assert tok.json()["token_type"] == "Bearer"


def test_a_bad_proof_with_the_push_is_invalid_dpop_proof(client, cred):
    key = Key()
    # htu of the token endpoint, not of the PAR endpoint (RFC 9449 §4.3 item 9).
    assert_json_error(push(client, cred, dpop=key.proof("POST", TOKEN)), "invalid_dpop_proof")
    assert_json_error(push(client, cred, dpop=key.proof("GET", PAR)), "invalid_dpop_proof")
    assert_json_error(push(client, cred, dpop=key.proof("POST", PAR, iat=1)), "invalid_dpop_proof")
    assert_json_error(push(client, cred, dpop="not.a.proof"), "invalid_dpop_proof")
    head, body, _ = key.proof("POST", PAR).split(".")
    assert_json_error(push(client, cred, dpop=f"{head}.{body}.{Key().proof('POST', PAR).split('.')[2]}"),
                      "invalid_dpop_proof")
    two = client.post(PAR, data=request_params(cred), auth=(cred.client_id, cred.client_secret),
                      headers=[("DPoP", key.proof("POST", PAR)), ("DPoP", key.proof("POST", PAR))])
    assert_json_error(two, "invalid_dpop_proof")


def test_a_dpop_jkt_pushed_with_a_proof_must_name_its_key(client, make_account, cred):
    acct, key = make_account(), Key()
    # RFC 9449 §10.1: "MUST reject the request if the JWK Thumbprint in dpop_jkt does not match".
    other = push(client, cred, dpop=key.proof("POST", PAR), dpop_jkt=Key().jkt)
    body = assert_json_error(other, "invalid_request")
    assert "dpop_jkt" in body["error_description"]
    uri = pushed_uri(client, cred, dpop=key.proof("POST", PAR), dpop_jkt=key.jkt)
    data = {"grant_type": "authorization_code", "code": code_of(client, acct, cred, uri),
            "redirect_uri": cred.redirect_uri, "code_verifier": VERIFIER}
    assert_json_error(token_request(client, cred, data, Key().proof("POST", TOKEN)), "invalid_grant")
    assert token_request(client, cred, data, key.proof("POST", TOKEN)).status_code == 200


@pytest.fixture
def nonce_client(settings: Any, db: Any) -> Any:
    from hospes.app import create_app

    with TestClient(create_app(settings.model_copy(update={"dpop_nonce": "token"})), base_url="http://127.0.0.1:8000",
                    follow_redirects=False) as c:
        yield c


def test_the_push_asks_for_the_servers_nonce_when_the_token_endpoint_does(nonce_client, cred):
    key = Key()
    r = push(nonce_client, cred, dpop=key.proof("POST", PAR))
    assert_json_error(r, "use_dpop_nonce")  # RFC 9449 §8
    nonce = r.headers["dpop-nonce"]
    r = push(nonce_client, cred, dpop=key.proof("POST", PAR, nonce=nonce))
    assert r.status_code == 201, r.text
    assert r.headers["dpop-nonce"]  # §8.2: the next one
    assert_json_error(push(nonce_client, cred, dpop=key.proof("POST", PAR, nonce="not-the-servers")),
                      "use_dpop_nonce")
    # Without a proof, no nonce is asked for.
    assert push(nonce_client, cred).status_code == 201
