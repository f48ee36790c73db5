"""The token endpoint's refusals (RFC 6749 §5.2, RFC 7636 §4.6, RFC 9700 §2.1.1 and §4.14.2).

Each refusal is checked as an RP sees it: the status, the error code, that no token came back,
and, where a refusal must revoke something, that the revoked token stops working.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import update

from hospes.clock import now
from hospes.oauth import pkce
from hospes.secrets import digest
from hospes.store.models import AuthorizationCode
from tests.browserless import authorize, query_of

TOKEN = "/oauth/token.php"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_6749_TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                         "unsupported_grant_type", "invalid_scope"}


def get_code(client: Any, acct: Any, cred: Any, scope: str = "openid", **extra: str) -> str:
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": scope, "state": "s", **extra}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    q = query_of(r.headers["location"])
    assert "code" in q, q
    return q["code"]


def exchange(client: Any, cred: Any, code: str, **extra: Any) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri}
    data.update(extra)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(TOKEN, data=data, auth=(cred.client_id, cred.client_secret))


def refresh(client: Any, cred: Any, token: str, **extra: str) -> Any:
    return client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token, **extra},
                       auth=(cred.client_id, cred.client_secret))


def tokens(client: Any, acct: Any, cred: Any, scope: str = "openid offline_access") -> dict[str, Any]:
    r = exchange(client, cred, get_code(client, acct, cred, scope))
    assert r.status_code == 200, r.text
    return r.json()


def userinfo_status(client: Any, access_token: str) -> int:
    return client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + access_token}).status_code


def assert_error(r: Any, error: str, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == error, body
    assert body["error"] in RFC_6749_TOKEN_ERRORS
    assert "access_token" not in body and "id_token" not in body and "refresh_token" not in body
    assert "no-store" in r.headers["cache-control"]
    return body


@pytest.fixture
def cred(make_credential: Any) -> Any:
    return make_credential(scope="openid profile email offline_access")


# -- the request itself ------------------------------------------------------------------------------


def test_missing_grant_type_is_invalid_request(client, cred):
    r = client.post(TOKEN, data={"code": "x"}, auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_unknown_grant_type_is_unsupported_grant_type(client, cred):
    for gt in ("password", "implicit", "urn:ietf:params:oauth:grant-type:saml2-bearer"):
        r = client.post(TOKEN, data={"grant_type": gt}, auth=(cred.client_id, cred.client_secret))
        assert_error(r, "unsupported_grant_type")


def test_get_is_invalid_request(client, cred):
    r = client.get(TOKEN + "?grant_type=authorization_code&code=x", auth=(cred.client_id, cred.client_secret))
    assert r.status_code in (400, 405)
    if r.status_code == 400:
        assert_error(r, "invalid_request")


def test_json_body_is_invalid_request(client, cred):
    r = client.post(TOKEN, content=json.dumps({"grant_type": "authorization_code", "code": "x"}),
                    headers={"Content-Type": "application/json"}, auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_multipart_body_is_invalid_request(client, cred):
    r = client.post(TOKEN, files={"grant_type": (None, "authorization_code")},
                    auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_oversized_body_is_an_error_not_a_crash(client, cred):
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": "x" * 200_000},
                    auth=(cred.client_id, cred.client_secret))
    assert 400 <= r.status_code < 500
    assert r.json()["error"] == "invalid_request"


def test_repeated_parameter_is_invalid_request(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, content=urlencode([("grant_type", "authorization_code"), ("code", code),
                                              ("code", code), ("redirect_uri", cred.redirect_uri)]),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_invalid_utf8_body_is_invalid_request(client, cred):
    r = client.post(TOKEN, content=b"grant_type=authorization_code&code=%ff%fe",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_nul_characters_are_invalid_request_not_a_crash(client, cred):
    """RFC 6749 Appendix A allows no NUL; PostgreSQL text columns cannot hold one either."""
    for data in ({"grant_type": "authorization_code", "client_id": "a\x00b", "client_secret": "x"},
                 {"grant_type": "authorization_code\x00", "code": "x"},
                 {"grant_type": "authorization_code", "code": "x\x00"}):
        r = client.post(TOKEN, data=data)
        assert_error(r, "invalid_request")


def test_nul_in_basic_credentials_is_invalid_client(client, cred):
    for user in (cred.client_id + "\x00", cred.client_id + "%00"):
        r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"},
                        auth=(user, cred.client_secret))
        assert_error(r, "invalid_client", 401)


# -- client authentication ------------------------------------------------------------------------


@pytest.fixture
def acct_code(client: Any, make_account: Any, cred: Any) -> tuple[Any, str]:
    return cred, get_code(client, make_account(), cred)


def test_wrong_secret_via_basic_is_401_with_a_challenge(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri}, auth=(cred.client_id, "wrong"))
    assert_error(r, "invalid_client", 401)
    assert r.headers["www-authenticate"].lower().startswith("basic")
    # The code was not spent by the failed attempt.
    assert exchange(client, cred, code).status_code == 200


def test_unknown_client_via_basic_is_invalid_client(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code},
                    auth=("HOSPES.unknown", cred.client_secret))
    assert_error(r, "invalid_client", 401)
    assert r.headers["www-authenticate"].lower().startswith("basic")


def test_malformed_basic_header_is_invalid_client(client, cred):
    for header in ("Basic !!!notbase64", "Basic " + "bm9jb2xvbg=="):  # second: "nocolon"
        r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"},
                        headers={"Authorization": header})
        assert_error(r, "invalid_client", 401)


def test_wrong_secret_via_post_is_invalid_client(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri, "client_id": cred.client_id,
                                 "client_secret": "wrong"})
    assert r.status_code in (400, 401)
    assert_error(r, "invalid_client", r.status_code)


def test_client_secret_post_works(client, acct_code):
    """What WHMCS integrators use (reference §3.2)."""
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri, "client_id": cred.client_id,
                                 "client_secret": cred.client_secret})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


def test_no_client_authentication_is_invalid_client(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri})
    assert_error(r, "invalid_client", 401)
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri, "client_id": cred.client_id})
    assert_error(r, "invalid_client", 401)  # a confidential client must send its secret


def test_basic_and_body_secret_together_is_invalid_request(client, acct_code):
    cred, code = acct_code
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri, "client_secret": cred.client_secret},
                    auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


# -- the code ------------------------------------------------------------------------------------


def test_code_of_another_client_is_invalid_grant(client, make_account, make_credential, acct_code):
    cred, code = acct_code
    other = make_credential(scope="openid")
    r = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": cred.redirect_uri}, auth=(other.client_id, other.client_secret))
    assert_error(r, "invalid_grant")


def test_unknown_or_missing_code(client, cred):
    assert_error(exchange(client, cred, "not-a-code"), "invalid_grant")
    r = client.post(TOKEN, data={"grant_type": "authorization_code"}, auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_expired_code_is_invalid_grant(client, db, acct_code):
    cred, code = acct_code
    with db.transaction() as s:
        s.execute(update(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code))
                  .values(expires_at=now() - timedelta(seconds=1)))
    assert_error(exchange(client, cred, code), "invalid_grant")


def test_wrong_redirect_uri_is_invalid_grant(client, acct_code):
    cred, code = acct_code
    assert_error(exchange(client, cred, code, redirect_uri=cred.redirect_uri + "/"), "invalid_grant")
    # Sent in the authorization request, so it must be repeated (RFC 6749 §4.1.3).
    assert_error(exchange(client, cred, code, redirect_uri=None), "invalid_grant")


def test_pkce_missing_or_wrong_verifier_is_invalid_grant(client, make_account, cred):
    acct = make_account()
    code = get_code(client, acct, cred, code_challenge=pkce.s256(VERIFIER), code_challenge_method="S256")
    assert_error(exchange(client, cred, code), "invalid_grant")
    assert_error(exchange(client, cred, code, code_verifier="w" * 43), "invalid_grant")
    assert_error(exchange(client, cred, code, code_verifier=VERIFIER[:-1]), "invalid_grant")
    ok = exchange(client, cred, code, code_verifier=VERIFIER)
    assert ok.status_code == 200, ok.text


def test_verifier_without_a_challenge_is_invalid_grant(client, acct_code):
    """RFC 9700 §2.1.1: refusing it stops a PKCE downgrade."""
    cred, code = acct_code
    assert_error(exchange(client, cred, code, code_verifier=VERIFIER), "invalid_grant")


def test_replayed_code_is_refused_and_revokes_what_it_issued(client, make_account, cred):
    acct = make_account()
    code = get_code(client, acct, cred, scope="openid offline_access")
    first = exchange(client, cred, code)
    assert first.status_code == 200
    body = first.json()
    assert userinfo_status(client, body["access_token"]) == 200
    assert_error(exchange(client, cred, code), "invalid_grant")
    # RFC 6749 §4.1.2: the tokens issued from the code are revoked.
    assert userinfo_status(client, body["access_token"]) == 401
    assert_error(refresh(client, cred, body["refresh_token"]), "invalid_grant")


def test_public_client_exchanges_with_pkce_and_no_secret(client, db, make_account):
    from hospes.oauth import credentials

    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid", name="SPA", public=True,
                                  redirect_uris=["https://spa.example.com/cb"])
    acct = make_account()
    cred = type("C", (), {"client_id": made.client_identifier, "redirect_uri": "https://spa.example.com/cb"})
    code = get_code(client, acct, cred, code_challenge=pkce.s256(VERIFIER), code_challenge_method="S256")
    base = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri,
            "client_id": cred.client_id}
    assert_error(client.post(TOKEN, data=base), "invalid_grant")
    r = client.post(TOKEN, data={**base, "code_verifier": VERIFIER})
    assert r.status_code == 200, r.text


# -- refresh tokens ----------------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_grant(client, make_account, cred):
    acct = make_account()
    t1 = tokens(client, acct, cred)
    r = refresh(client, cred, t1["refresh_token"])
    assert r.status_code == 200, r.text
    t2 = r.json()
    assert t2["refresh_token"] != t1["refresh_token"]
    assert userinfo_status(client, t2["access_token"]) == 200
    # The old refresh token comes back: someone has a copy. RFC 9700 §4.14.2: revoke everything.
    assert_error(refresh(client, cred, t1["refresh_token"]), "invalid_grant")
    assert_error(refresh(client, cred, t2["refresh_token"]), "invalid_grant")
    assert userinfo_status(client, t2["access_token"]) == 401
    assert userinfo_status(client, t1["access_token"]) == 401


def test_refresh_with_narrower_scope(client, make_account, cred):
    acct = make_account()
    t1 = tokens(client, acct, cred, scope="openid profile email offline_access")
    r = refresh(client, cred, t1["refresh_token"], scope="openid")
    assert r.status_code == 200, r.text
    t2 = r.json()
    assert t2["scope"].split() == ["openid"]
    ui = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + t2["access_token"]}).json()
    assert "email" not in ui and "name" not in ui
    # RFC 6749 §6: narrowing one access token does not shrink the grant.
    r = refresh(client, cred, t2["refresh_token"], scope="openid email")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"openid", "email"}


def test_refresh_with_wider_scope_is_invalid_scope(client, make_account, cred):
    acct = make_account()
    t1 = tokens(client, acct, cred, scope="openid offline_access")
    assert_error(refresh(client, cred, t1["refresh_token"], scope="openid profile"), "invalid_scope")
    # The failed attempt did not spend the refresh token.
    assert refresh(client, cred, t1["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(client, make_account, make_credential, cred):
    acct = make_account()
    t1 = tokens(client, acct, cred)
    other = make_credential(scope="openid offline_access", redirect_uri="https://other.example.com/cb")
    r = client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": t1["refresh_token"]},
                    auth=(other.client_id, other.client_secret))
    assert_error(r, "invalid_grant")


def test_refresh_without_token_is_invalid_request(client, cred):
    r = client.post(TOKEN, data={"grant_type": "refresh_token"}, auth=(cred.client_id, cred.client_secret))
    assert_error(r, "invalid_request")


def test_no_refresh_token_without_offline_access(client, make_account, cred):
    body = tokens(client, make_account(), cred, scope="openid")
    assert "refresh_token" not in body


# -- caching ----------------------------------------------------------------------------------------


def test_token_responses_are_not_cached(client, acct_code):
    cred, code = acct_code
    ok = exchange(client, cred, code)
    assert ok.status_code == 200
    assert "no-store" in ok.headers["cache-control"]
    assert ok.headers.get("pragma") == "no-cache"
    assert ok.headers["content-type"].startswith("application/json")
    body = ok.json()
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    bad = exchange(client, cred, code)
    assert "no-store" in bad.headers["cache-control"]
