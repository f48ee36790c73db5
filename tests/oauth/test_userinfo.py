"""UserInfo (OpenID Connect Core §5.3) with bearer tokens (RFC 6750): refusals and claims by scope."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.browserless import tokens_for

USERINFO = "/oauth/userinfo.php"


def access_token(client: Any, acct: Any, cred: Any, scope: str) -> dict[str, Any]:
    return tokens_for(client, acct, cred, scope)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def challenge(r: Any) -> str:
    value = r.headers["www-authenticate"]
    assert value.startswith("Bearer"), value
    return value


def test_no_token_is_401_with_a_bare_bearer_challenge(client):
    r = client.get(USERINFO)
    assert r.status_code == 401
    # RFC 6750 §3.1: with no credentials at all, the challenge carries no error code.
    assert "error=" not in challenge(r)
    assert "no-store" in r.headers["cache-control"]


def test_bad_token_is_401_invalid_token(client):
    for how in ({"headers": bearer("not-a-token")}, {"params": {"access_token": "not-a-token"}}):
        r = client.get(USERINFO, **how)
        assert r.status_code == 401
        assert 'error="invalid_token"' in challenge(r)
        assert r.json()["error"] == "invalid_token"


def test_other_authorization_scheme_is_refused(client, make_account, make_credential):
    r = client.get(USERINFO, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code in (400, 401)
    assert "www-authenticate" in r.headers
    assert "sub" not in r.text


def test_token_sent_twice_is_invalid_request(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    at = access_token(client, acct, cred, "openid")["access_token"]
    r = client.get(USERINFO, headers=bearer(at), params={"access_token": at})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in challenge(r)
    assert "sub" not in r.json()
    r = client.post(USERINFO, headers=bearer(at), data={"access_token": at})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_token_without_openid_is_403_insufficient_scope(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    body = access_token(client, acct, cred, "profile email")
    assert "id_token" not in body
    r = client.get(USERINFO, headers=bearer(body["access_token"]))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in challenge(r)
    assert r.json()["error"] == "insufficient_scope"
    assert "email" not in r.json()


def test_openid_alone_gives_only_sub(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    body = access_token(client, acct, cred, "openid")
    r = client.get(USERINFO, headers=bearer(body["access_token"]))
    assert r.status_code == 200, r.text
    claims = r.json()
    assert set(claims) == {"sub"}
    # Integrators check that UserInfo's sub is the ID token's (reference §3.4).
    payload = body["id_token"].split(".")[1]
    id_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == id_claims["sub"]
    assert acct.email not in r.text


def test_profile_scope_claims(client, make_account, make_credential):
    acct, cred = make_account(first_name="Ada", last_name="Lovelace"), make_credential()
    at = access_token(client, acct, cred, "openid profile")["access_token"]
    claims = client.get(USERINFO, headers=bearer(at)).json()
    assert set(claims) == {"sub", "name", "given_name", "family_name", "locale", "updated_at"}
    assert claims["name"] == "Ada Lovelace"
    assert claims["given_name"] == "Ada" and claims["family_name"] == "Lovelace"
    assert isinstance(claims["updated_at"], int) and claims["updated_at"] > 0
    assert claims["locale"]


def test_email_scope_claims(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    at = access_token(client, acct, cred, "openid email")["access_token"]
    claims = client.get(USERINFO, headers=bearer(at)).json()
    assert set(claims) == {"sub", "email", "email_verified"}
    assert claims["email"] == acct.email
    assert claims["email_verified"] is False


def test_all_three_ways_to_send_the_token(client, make_account, make_credential):
    """Header (RFC 6750 §2.1), form body (§2.2), and WHMCS's ?access_token= query (§2.3)."""
    acct, cred = make_account(), make_credential()
    at = access_token(client, acct, cred, "openid email")["access_token"]
    by_header = client.get(USERINFO, headers=bearer(at))
    by_form = client.post(USERINFO, data={"access_token": at})
    by_query = client.get(USERINFO + "?access_token=" + at)
    for r in (by_header, by_form, by_query):
        assert r.status_code == 200, r.text
        assert r.json()["email"] == acct.email
        assert "no-store" in r.headers["cache-control"]
    # The .php-less alias answers the same.
    assert client.get("/oauth/userinfo", headers=bearer(at)).json() == by_header.json()
