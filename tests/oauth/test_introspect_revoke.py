"""Token introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from hospes.oauth import credentials, pkce
from tests.browserless import authorize, query_of, tokens_for

INTROSPECT = "/oauth/introspect"
REVOKE = "/oauth/revoke"


def tokens(client: Any, acct: Any, cred: Any, scope: str = "openid offline_access") -> dict[str, Any]:
    return tokens_for(client, acct, cred, scope)


def introspect(client: Any, cred: Any, token: str, **extra: str) -> Any:
    return client.post(INTROSPECT, data={"token": token, **extra}, auth=(cred.client_id, cred.client_secret))


def revoke(client: Any, cred: Any, token: str, **extra: str) -> Any:
    return client.post(REVOKE, data={"token": token, **extra}, auth=(cred.client_id, cred.client_secret))


def userinfo_status(client: Any, at: str) -> int:
    return client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + at}).status_code


@pytest.fixture
def cred(make_credential: Any) -> Any:
    return make_credential(scope="openid profile email offline_access")


@pytest.fixture
def issued(client: Any, make_account: Any, cred: Any) -> dict[str, Any]:
    return tokens(client, make_account(), cred)


# -- introspection -----------------------------------------------------------------------------------


def test_introspection_needs_client_authentication(client, issued):
    r = client.post(INTROSPECT, data={"token": issued["access_token"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "active" not in r.json()


def test_introspection_with_a_wrong_secret_is_invalid_client(client, cred, issued):
    r = client.post(INTROSPECT, data={"token": issued["access_token"]}, auth=(cred.client_id, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].lower().startswith("basic")


def test_public_client_cannot_introspect(client, db, make_account):
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid", name="SPA", public=True,
                                  redirect_uris=["https://spa.example.com/cb"])
    acct = make_account()
    verifier = "v" * 43
    params = {"response_type": "code", "client_id": made.client_identifier,
              "redirect_uri": "https://spa.example.com/cb", "scope": "openid", "state": "s",
              "code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    code = query_of(r.headers["location"])["code"]
    tok = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": "https://spa.example.com/cb",
                                                "client_id": made.client_identifier, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    r = client.post(INTROSPECT, data={"token": tok.json()["access_token"], "client_id": made.client_identifier})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "active" not in r.json()


def test_unknown_token_is_inactive(client, cred):
    r = introspect(client, cred, "no-such-token")
    assert r.status_code == 200
    assert r.json() == {"active": False}
    assert "no-store" in r.headers["cache-control"]


def test_active_access_and_refresh_tokens(client, cred, issued):
    body = introspect(client, cred, issued["access_token"]).json()
    assert body["active"] is True
    assert body["client_id"] == cred.client_id
    assert set(body["scope"].split()) == {"openid", "offline_access"}
    assert body["token_type"] == "Bearer"
    assert body["exp"] > body["iat"] and body["sub"] and body["iss"] == "http://127.0.0.1:8000"
    # RFC 7662 §2.2 aud: a token asked for without resource is for the customer API (RFC 8707).
    assert body["aud"] == "http://127.0.0.1:8000/api/v1" and body["acr"] == "1"
    body = introspect(client, cred, issued["refresh_token"], token_type_hint="refresh_token").json()
    assert body["active"] is True and body["client_id"] == cred.client_id


@pytest.mark.parametrize("scope", ["openid", "openid profile", "openid offline_access"])
def test_a_token_without_the_email_scope_does_not_tell_the_email_address(client, make_account, cred, scope):
    """RFC 7662 §2.2 makes ``username`` optional, and here it is the email address: released only to a token
    granted the email scope (OIDC Core §5.4), as userinfo and the ID token release it."""
    acct = make_account()
    issued = tokens(client, acct, cred, scope)
    for token in filter(None, (issued["access_token"], issued.get("refresh_token"))):
        body = introspect(client, cred, token).json()
        assert body["active"] is True and body["sub"]
        assert "username" not in body
        assert acct.email not in str(body)


def test_a_token_with_the_email_scope_gives_the_email_address_as_username(client, make_account, cred):
    acct = make_account()
    issued = tokens(client, acct, cred, "openid email offline_access")
    for token in (issued["access_token"], issued["refresh_token"]):
        assert introspect(client, cred, token).json()["username"] == acct.email


def test_a_wrong_hint_still_finds_the_token(client, cred, issued):
    """RFC 7662 §2.1: the hint only speeds up the search."""
    assert introspect(client, cred, issued["access_token"], token_type_hint="refresh_token").json()["active"]
    assert introspect(client, cred, issued["refresh_token"], token_type_hint="access_token").json()["active"]


def test_token_of_another_client_is_inactive(client, make_credential, issued):
    other = make_credential(scope="openid", redirect_uri="https://other.example.com/cb")
    assert introspect(client, other, issued["access_token"]).json() == {"active": False}


def test_nul_characters_are_refused_not_a_crash(client, cred):
    for path in (INTROSPECT, REVOKE):
        r = client.post(path, data={"token": "t", "client_id": "a\x00b", "client_secret": "x"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_introspection_without_token_is_invalid_request(client, cred):
    r = client.post(INTROSPECT, data={}, auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


# -- revocation -------------------------------------------------------------------------------------


def test_revoking_an_unknown_token_is_200(client, cred):
    r = revoke(client, cred, "no-such-token")
    assert r.status_code == 200
    r = revoke(client, cred, "no-such-token", token_type_hint="refresh_token")
    assert r.status_code == 200


def test_revocation_needs_client_authentication(client, issued):
    r = client.post(REVOKE, data={"token": issued["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert userinfo_status(client, issued["access_token"]) == 200


def test_revoking_the_access_token(client, cred, issued):
    assert revoke(client, cred, issued["access_token"]).status_code == 200
    assert userinfo_status(client, issued["access_token"]) == 401
    assert introspect(client, cred, issued["access_token"]).json() == {"active": False}


def test_revoking_the_refresh_token_kills_the_access_token(client, cred, issued):
    assert userinfo_status(client, issued["access_token"]) == 200
    assert revoke(client, cred, issued["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert userinfo_status(client, issued["access_token"]) == 401
    assert introspect(client, cred, issued["access_token"]).json() == {"active": False}
    r = client.post("/oauth/token.php", data={"grant_type": "refresh_token",
                                              "refresh_token": issued["refresh_token"]},
                    auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_another_client_cannot_revoke_my_token(client, make_credential, cred, issued):
    other = make_credential(scope="openid", redirect_uri="https://other.example.com/cb")
    assert revoke(client, other, issued["access_token"]).status_code == 200  # RFC 7009 §2.2: no leak
    assert userinfo_status(client, issued["access_token"]) == 200


def test_unsupported_token_type_hint(client, cred, issued):
    r = revoke(client, cred, issued["access_token"], token_type_hint="id_token")
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_token_type"
    assert userinfo_status(client, issued["access_token"]) == 200


def test_revocation_without_token_is_invalid_request(client, cred):
    r = client.post(REVOKE, data={}, auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_revocation_by_get_is_refused(client, cred, issued):
    r = client.get(REVOKE, params={"token": issued["access_token"]}, auth=(cred.client_id, cred.client_secret))
    assert r.status_code in (400, 405)
    assert userinfo_status(client, issued["access_token"]) == 200
