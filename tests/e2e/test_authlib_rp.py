"""A real relying party (Authlib's httpx client) against the real server process, set up through the CLI."""

from __future__ import annotations

import time
from typing import Any, cast

import httpx
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.browserless import query_of
from tests.e2e import (
    REDIRECT_URI,
    SCOPE,
    FlowResult,
    add_credential,
    add_user,
    authorization_redirect,
    code_flow,
    discover,
    jwks,
    rp,
    verify_id_token,
)

# Unbuffered, so the log holds everything the server wrote when the test reads it.
SERVER_ENV = {"PYTHONUNBUFFERED": "1"}


pytestmark = pytest.mark.one_server  # the tests share one server (tests/conftest.py)

def userinfo_bearer(meta: dict[str, Any], access_token: str) -> httpx.Response:
    return httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + access_token}, timeout=10)


def assert_dead(meta: dict[str, Any], access_token: str) -> None:
    r = userinfo_bearer(meta, access_token)
    assert r.status_code == 401, r.text
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def server_log(server: Any) -> str:
    """What the server has written to its log (unbuffered, SERVER_ENV: everything so far)."""
    return str(server.log.read_text(errors="replace"))


# -- discovery ---------------------------------------------------------------------------------------


def test_discovery_is_the_same_at_every_address_and_valid_for_an_rp(server, monkeypatch):
    meta = discover(server)
    for path in ("/oauth/openid-configuration.php", "/.well-known/oauth-authorization-server"):
        r = httpx.get(server.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == meta, path
    assert meta["issuer"] == server.url
    # Authlib's own checks of an OpenID provider's metadata (it wants https; loopback http is ours).
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    OpenIDProviderMetadata(meta).validate()
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"):
        assert meta[key].startswith(server.url + "/"), key
    assert "S256" in meta["code_challenge_methods_supported"]
    assert {"RS256", "ES256"} <= set(meta["id_token_signing_alg_values_supported"])
    assert set(SCOPE.split()) <= set(meta["scopes_supported"])
    # Every advertised endpoint answers (JWKS with keys, the others with something other than 404).
    assert jwks(meta)["keys"]
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "revocation_endpoint",
                "introspection_endpoint"):
        assert httpx.get(meta[key], timeout=10).status_code != 404, key


# -- the code flow -------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_code_flow(server, auth_method):
    user = add_user(server)
    cred = add_credential(server)
    assert cred.client_secret
    meta = discover(server)
    sent: list[httpx.Request] = []
    oauth = rp(cred, auth_method, event_hooks={"request": [sent.append]})
    flow = code_flow(oauth, meta, user)

    # The client authenticated the way it was told to, and the server accepted it.
    token_request = [r for r in sent if str(r.url) == meta["token_endpoint"]][-1]
    body = token_request.content.decode()
    if auth_method == "client_secret_basic":
        assert token_request.headers["authorization"].startswith("Basic ") and "client_secret" not in body
    else:
        assert "authorization" not in token_request.headers and "client_secret=" in body

    tok = flow.token
    assert set(tok["scope"].split()) == set(SCOPE.split())
    assert tok["expires_in"] > 0 and tok["refresh_token"] and tok["access_token"]
    header, claims = verify_id_token(tok["id_token"], meta, cred.client_id, nonce=flow.nonce,
                                     access_token=tok["access_token"])
    assert header["kid"]
    assert claims["email"] == user.email

    # UserInfo three ways, all naming the same subject as the ID token.
    by_header = userinfo_bearer(meta, tok["access_token"])
    by_form = httpx.post(meta["userinfo_endpoint"], data={"access_token": tok["access_token"]}, timeout=10)
    by_query = httpx.get(meta["userinfo_endpoint"], params={"access_token": tok["access_token"]}, timeout=10)
    for r in (by_header, by_form, by_query):
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["sub"] == claims["sub"]
        assert info["email"] == user.email
        assert info["given_name"] == "Jane" and info["family_name"] == "Doe"
    # Authlib's own bearer placement works too.
    assert oauth.get(meta["userinfo_endpoint"]).json()["sub"] == claims["sub"]

    # The code is single use, and a replay revokes what it gave (RFC 6749 §4.1.2).
    with pytest.raises(OAuthError) as again:
        oauth.fetch_token(meta["token_endpoint"], code=flow.code, code_verifier="x" * 43)
    assert again.value.error == "invalid_grant"
    assert_dead(meta, tok["access_token"])

    # Nothing secret reached the server's log.
    log = server_log(server)
    assert "Hospes issuer" in log
    for secret in (tok["access_token"], tok["refresh_token"], flow.code, cred.client_secret, user.password):
        assert secret not in log


def test_refresh_rotates_and_reuse_revokes_the_grant(server):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)
    oauth = rp(cred)
    flow = code_flow(oauth, meta, user)
    first = flow.token
    sub = verify_id_token(first["id_token"], meta, cred.client_id, nonce=flow.nonce,
                          access_token=first["access_token"])[1]["sub"]

    second = dict(oauth.refresh_token(meta["token_endpoint"], refresh_token=first["refresh_token"]))
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert userinfo_bearer(meta, second["access_token"]).json()["sub"] == sub
    if "id_token" in second:
        # OpenID Connect Core §12.2: same iss and sub; no nonce required.
        claims = verify_id_token(second["id_token"], meta, cred.client_id, nonce=None,
                                 access_token=second["access_token"])[1]
        assert claims["sub"] == sub

    third = dict(oauth.refresh_token(meta["token_endpoint"], refresh_token=second["refresh_token"]))
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert userinfo_bearer(meta, third["access_token"]).status_code == 200

    # The old refresh token comes back (as from a thief): refused, and the whole grant dies.
    with pytest.raises(OAuthError) as reused:
        oauth.refresh_token(meta["token_endpoint"], refresh_token=first["refresh_token"])
    assert reused.value.error == "invalid_grant"
    assert_dead(meta, third["access_token"])
    with pytest.raises(OAuthError) as newest:
        oauth.refresh_token(meta["token_endpoint"], refresh_token=third["refresh_token"])
    assert newest.value.error == "invalid_grant"
    assert oauth.introspect_token(meta["introspection_endpoint"], token=third["refresh_token"]).json() == {
        "active": False}

    log = server_log(server)
    for secret in (first["refresh_token"], second["refresh_token"], third["refresh_token"],
                   third["access_token"], cred.client_secret):
        assert secret not in log


# -- revocation and introspection ------------------------------------------------------------------------


def test_revoked_access_token_is_inactive_and_refused(server):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)
    oauth = rp(cred)
    tok = code_flow(oauth, meta, user).token
    assert userinfo_bearer(meta, tok["access_token"]).status_code == 200

    r = oauth.revoke_token(meta["revocation_endpoint"], token=tok["access_token"], token_type_hint="access_token")
    assert r.status_code == 200, r.text
    intro = oauth.introspect_token(meta["introspection_endpoint"], token=tok["access_token"])
    assert intro.status_code == 200
    assert intro.json() == {"active": False}
    assert_dead(meta, tok["access_token"])
    # RFC 7009 §2.2: revoking again, or revoking nonsense, is not an error.
    assert oauth.revoke_token(meta["revocation_endpoint"], token=tok["access_token"]).status_code == 200
    assert oauth.revoke_token(meta["revocation_endpoint"], token="no-such-token").status_code == 200


def test_revoking_the_refresh_token_ends_the_grant(server):
    user = add_user(server)
    cred = add_credential(server, "--refresh-tokens", "always")
    meta = discover(server)
    oauth = rp(cred, "client_secret_post")
    tok = code_flow(oauth, meta, user).token
    r = oauth.revoke_token(meta["revocation_endpoint"], token=tok["refresh_token"], token_type_hint="refresh_token")
    assert r.status_code == 200
    assert_dead(meta, tok["access_token"])
    with pytest.raises(OAuthError) as exc:
        oauth.refresh_token(meta["token_endpoint"], refresh_token=tok["refresh_token"])
    assert exc.value.error == "invalid_grant"


def test_introspection_reports_a_live_token_only_to_its_own_client(server):
    user = add_user(server)
    cred = add_credential(server)
    other = add_credential(server, name="Other RP")
    meta = discover(server)
    oauth = rp(cred)
    flow = code_flow(oauth, meta, user)
    tok = flow.token
    sub = verify_id_token(tok["id_token"], meta, cred.client_id, nonce=flow.nonce,
                          access_token=tok["access_token"])[1]["sub"]

    before = time.time()
    r = oauth.introspect_token(meta["introspection_endpoint"], token=tok["access_token"])
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["active"] is True
    assert set(info["scope"].split()) == set(SCOPE.split())
    assert info["client_id"] == cred.client_id
    assert info["sub"] == sub
    assert before < info["exp"] <= before + tok["expires_in"] + 5

    refresh = oauth.introspect_token(meta["introspection_endpoint"], token=tok["refresh_token"],
                                     token_type_hint="refresh_token").json()
    assert refresh["active"] is True and refresh["client_id"] == cred.client_id and refresh["sub"] == sub

    # Another client learns nothing about it, and cannot revoke it either.
    stranger = rp(other)
    for token in (tok["access_token"], tok["refresh_token"]):
        r = stranger.introspect_token(meta["introspection_endpoint"], token=token)
        assert r.status_code == 200 and r.json() == {"active": False}
    stranger.revoke_token(meta["revocation_endpoint"], token=tok["access_token"])
    assert userinfo_bearer(meta, tok["access_token"]).status_code == 200

    # Without client authentication, introspection is refused outright.
    anon = httpx.post(meta["introspection_endpoint"], data={"token": tok["access_token"]}, timeout=10)
    assert anon.status_code == 401 and anon.json()["error"] == "invalid_client"


# -- public clients and PKCE -------------------------------------------------------------------------------


def test_public_client_completes_the_flow_with_pkce_and_no_secret(server):
    user = add_user(server)
    cred = add_credential(server, "--public")
    assert cred.client_secret == ""
    meta = discover(server)
    sent: list[httpx.Request] = []
    oauth = rp(cred, "none", event_hooks={"request": [sent.append]})
    flow = code_flow(oauth, meta, user)
    token_request = [r for r in sent if str(r.url) == meta["token_endpoint"]][-1]
    assert "authorization" not in token_request.headers
    assert "client_secret" not in token_request.content.decode()
    assert "code_verifier=" in token_request.content.decode()
    verify_id_token(flow.token["id_token"], meta, cred.client_id, nonce=flow.nonce,
                    access_token=flow.token["access_token"])
    assert userinfo_bearer(meta, flow.token["access_token"]).json()["email"] == user.email


def test_public_client_without_code_challenge_is_sent_back_with_invalid_request(server):
    user = add_user(server)
    cred = add_credential(server, "--public")
    meta = discover(server)
    oauth = rp(cred, "none")
    location, state = authorization_redirect(oauth, meta, user, verifier=None, nonce="n-1")
    assert location.startswith(REDIRECT_URI + "?"), location
    q = query_of(location)
    assert q["error"] == "invalid_request"
    assert q["state"] == state and q["iss"] == meta["issuer"]
    assert "code" not in q


def test_public_client_token_request_needs_the_verifier(server):
    user = add_user(server)
    cred = add_credential(server, "--public")
    meta = discover(server)
    oauth = rp(cred, "none")
    location, state = authorization_redirect(oauth, meta, user, verifier="v" * 50, nonce="n-2")
    code = query_of(location)["code"]
    for verifier in (None, "w" * 50):
        kw = {"code_verifier": verifier} if verifier else {}
        with pytest.raises(OAuthError) as exc:
            oauth.fetch_token(meta["token_endpoint"], code=code, **kw)
        assert exc.value.error == "invalid_grant"


# -- ES256 -----------------------------------------------------------------------------------------------


def test_es256_credential_gets_an_es256_id_token(server):
    user = add_user(server)
    cred = add_credential(server, "--id-token-alg", "ES256")
    meta = discover(server)
    flow: FlowResult = code_flow(rp(cred), meta, user)
    published = jwks(meta)
    header, claims = verify_id_token(flow.token["id_token"], meta, cred.client_id, nonce=flow.nonce,
                                     access_token=flow.token["access_token"], alg="ES256", key_set=published)
    key = next(k for k in published["keys"] if k["kid"] == header["kid"])
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    # An RS256-only RP would refuse it: the alg is really ES256, not a relabelled RSA signature.
    with pytest.raises(JoseError):
        jwt.decode(flow.token["id_token"], KeySet.import_key_set(cast(Any, published)), algorithms=["RS256"])
    assert claims["email"] == user.email
