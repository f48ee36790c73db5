"""Customers' events in the audit log, beside the staff's: a failed, a throttled and a right login, the second
factor right and wrong, a consent, a token grant and its refresh (one entry per grant, none per userinfo call),
a revocation at the revocation endpoint; each with the request id its answer carried, the OAuth client where
there is one, and never a secret. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from starlette.testclient import TestClient

from hospes import audit
from tests.account import BASE, enrol, login, login_password, post_form
from tests.oauth.test_token import exchange, get_code, refresh

WRONG = "not the password at all"


def _entries(db: Any, **filters: Any) -> list[Any]:
    with db.read() as s:
        return audit.search(s, limit=1000, **filters)


def test_login_consent_grant_refresh_and_revocation_are_audited(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential(scope="openid offline_access")
    wrong = login_password(client, replace(acct, password=WRONG))
    assert wrong.status_code == 401 and "Incorrect" in wrong.text
    code = get_code(client, acct, cred, scope="openid offline_access")
    granted = exchange(client, cred, code)
    assert granted.status_code == 200
    body = granted.json()
    refreshed = refresh(client, cred, body["refresh_token"])
    assert refreshed.status_code == 200
    for _ in range(3):
        assert client.get("/oauth/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).status_code \
            == 200
    revoked = client.post("/oauth/revoke", data={"token": refreshed.json()["refresh_token"]},
                          auth=(cred.client_id, cred.client_secret))
    assert revoked.status_code == 200
    # An unknown token is answered 200 too (RFC 7009 §2.2), and nothing was revoked: no entry.
    client.post("/oauth/revoke", data={"token": "nothing-like-it"}, auth=(cred.client_id, cred.client_secret))

    who = f"user:{acct.user_id}"
    mine = _entries(db, customer=str(acct.user_id))
    actions = [e.action for e in reversed(mine)]
    assert actions == ["user.login_failed", "user.login", "consent.granted", "token.granted", "token.refreshed"]
    assert mine[-1].details == {"reason": "wrong email or password"} and mine[-1].actor == who
    consent = next(e for e in mine if e.action == "consent.granted")
    assert consent.client_id == cred.client_id and consent.details["scope"].split() == ["openid", "offline_access"]
    # One entry per grant, each with the id its answer carried and the client; none for the userinfo calls.
    grant = next(e for e in mine if e.action == "token.granted")
    assert grant.request_id == granted.headers["x-request-id"] and grant.client_id == cred.client_id
    assert grant.ip_address == "testclient" and grant.target.startswith("grant:")
    again = next(e for e in mine if e.action == "token.refreshed")
    assert again.request_id == refreshed.headers["x-request-id"] and again.target == grant.target
    by_client = _entries(db, client=cred.client_id)
    assert [e.action for e in by_client] == ["token.revoked", "token.refreshed", "token.granted", "consent.granted"]
    assert by_client[0].request_id == revoked.headers["x-request-id"]
    assert by_client[0].details == {"kind": "refresh_token"} and by_client[0].target == grant.target
    assert [e.action for e in _entries(db, request_id=granted.headers["x-request-id"])] == ["token.granted"]
    secrets = [acct.password, WRONG, cred.client_secret, code, body["access_token"], body["refresh_token"],
               body["id_token"], refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    for e in _entries(db):
        flat = json.dumps([e.actor, e.target, e.details, e.client_id])
        assert not any(secret in flat for secret in secrets), e.action


def test_throttled_logins_and_the_second_factor_are_audited(app, db, make_account, clock):
    acct = make_account()
    with TestClient(app, base_url=BASE, follow_redirects=False) as http:
        for _ in range(8):
            r = login_password(http, replace(acct, password=WRONG))
            if "Too many" in r.text:
                break
        assert "Too many" in r.text
    throttled = _entries(db, action="user.login_throttled")
    assert throttled and throttled[0].actor == f"user:{acct.user_id}" and throttled[0].details == {"step": "password"}

    other = make_account()
    with TestClient(app, base_url=BASE, follow_redirects=False) as http:
        login(http, other)
        secret, _codes = enrol(http, clock)
        http.post("/logout", data={"token": http.cookies.get("hospes_csrf", "")})
    with TestClient(app, base_url=BASE, follow_redirects=False) as http:
        page = login_password(http, other)
        assert "second_factor" in page.text
        bad = post_form(http, page, "code", code="000000")
        assert bad.status_code in (200, 401)
        ok = post_form(http, page, "code", code=clock.code(secret))
        assert ok.status_code == 303
    actions = [e.action for e in reversed(_entries(db, customer=str(other.user_id)))]
    assert actions[-2:] == ["user.second_factor_failed", "user.second_factor_ok"]
    assert _entries(db, customer=str(other.user_id), action="user.second_factor_ok")[0].details == {"acr": "2"}
