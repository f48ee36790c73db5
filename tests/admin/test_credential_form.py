"""The credential form's other fields (public with PKCE, post-logout redirect URIs, refresh tokens, the ID token's
algorithm) and each credential's usage, checked where an application would notice them."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.oauth import pkce
from hospes.store.models import OAuthCredential
from tests.admin import OIDC, admin_session, audit_rows, post, text_of
from tests.browserless import authorize, query_of, tokens_for
from tests.conftest import Cred

RP = "https://rp.example.com/cb"
BACK = "https://rp.example.com/bye"


def _create(client: Any, **fields: str) -> tuple[int, str, str]:
    data = [("name", "Form App"), ("redirect_uri", RP), ("scope", "openid"), ("scope", "offline_access"),
            ("op", "save"), *fields.items()]
    r = post(client, "/admin/oauth/new", data)
    assert r.status_code == 201, r.text
    with_id = r.text.split('action="/admin/oauth/')[1].split('"')[0]
    return int(with_id), text_of(r.text, "client-id") or "", text_of(r.text, "client-secret") or ""


def _alg(id_token: str) -> str:
    header = id_token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"])


def test_algorithm_and_refresh_policy_reach_the_tokens(client, app, db, make_account):
    admin_session(client, db, "olga", OIDC)
    acct = make_account()
    cid, identifier, secret = _create(client, id_token_alg="ES256", refresh_token_policy="always",
                                      post_logout_redirect_uris=f"{BACK}\n\n")
    cred = Cred(cid, identifier, secret, RP)
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as rp:
        got = tokens_for(rp, acct, cred, "openid")
    assert _alg(got["id_token"]) == "ES256" and "refresh_token" in got
    page = client.get(f"/admin/oauth/{cid}").text
    assert 'value="ES256" selected' in page and 'value="always" selected' in page and BACK in page
    assert text_of(page, "usage-people") == "1" and "(UTC)" in (text_of(page, "usage-last-token") or "")
    r = post(client, f"/admin/oauth/{cid}", [("name", "Form App"), ("redirect_uri", RP), ("scope", "openid"),
                                             ("scope", "offline_access"), ("id_token_alg", "RS256"),
                                             ("refresh_token_policy", "never"), ("post_logout_redirect_uris", ""),
                                             ("op", "save")])
    assert r.status_code == 303
    with db.read() as s:
        row = s.get(OAuthCredential, cid)
        assert row is not None
        assert (row.id_token_signed_response_alg, row.refresh_token_policy, row.post_logout_redirect_uris) == (
            "RS256", "never", [])
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as rp:
        got = tokens_for(rp, acct, cred, "openid offline_access")
    assert _alg(got["id_token"]) == "RS256" and "refresh_token" not in got
    [entry] = audit_rows(db, "oauth_credential.updated")
    assert entry.actor == "admin:olga" and set(entry.details["fields"]) == {
        "id_token_signed_response_alg", "refresh_token_policy", "post_logout_redirect_uris"}


def test_a_new_credential_has_no_usage(client, db):
    admin_session(client, db, permissions=OIDC)
    cid, _, _ = _create(client)
    page = client.get(f"/admin/oauth/{cid}").text
    assert text_of(page, "usage-people") == "0" and text_of(page, "usage-last-token") == "None kept"


def test_a_public_credential_has_no_secret_and_needs_pkce(client, app, db, make_account):
    admin_session(client, db, permissions=OIDC)
    acct = make_account()
    cid, identifier, secret = _create(client, public="yes")
    assert secret == ""
    with db.read() as s:
        assert s.scalar(select(OAuthCredential.secret_hash).where(OAuthCredential.id == cid)) is None
    assert "public client" in client.get(f"/admin/oauth/{cid}").text
    verifier = "a-verifier-of-forty-three-characters-or-more-0123"
    params = {"response_type": "code", "client_id": identifier, "redirect_uri": RP, "scope": "openid", "state": "s"}
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as rp:
        refused = authorize(rp, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
        assert query_of(refused.headers["location"])["error"] == "invalid_request"
        params |= {"code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}
        r = authorize(rp, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
        code = query_of(r.headers["location"])["code"]
        tok = rp.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code, "redirect_uri": RP,
                                                "client_id": identifier, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    # "Public" is chosen when the credential is made: the edit form does not offer it.
    assert 'name="public"' not in client.get(f"/admin/oauth/{cid}").text


def test_a_bad_post_logout_uri_is_refused_and_kept_in_the_form(client, db):
    admin_session(client, db, permissions=OIDC)
    r = post(client, "/admin/oauth/new", [("name", "X"), ("redirect_uri", RP), ("scope", "openid"),
                                          ("post_logout_redirect_uris", "not a uri"), ("op", "save")])
    assert r.status_code == 400 and "not a uri" in r.text
    with db.read() as s:
        assert s.scalar(select(OAuthCredential.id)) is None
