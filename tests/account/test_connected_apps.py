"""Connected applications: a customer sees what they approved and revokes it; the application's tokens stop
working at that moment. Another user's application cannot be revoked by guessing its id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from hospes import audit
from hospes.accounts import connected_apps
from hospes.clock import now
from hospes.store.models import AccessToken, Consent, Grant
from tests.account import post_form, soup
from tests.browserless import tokens_for

SCOPE = "openid profile email offline_access"


def connect(client: Any, acct: Any, cred: Any) -> dict[str, Any]:
    return tokens_for(client, acct, cred, SCOPE)


def userinfo(client: Any, access_token: str) -> int:
    return client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + access_token}).status_code


def test_connect_see_permissions_revoke_and_the_tokens_stop(client, make_account, make_credential, db):
    acct = make_account()
    cred = make_credential(scope=SCOPE, name="Photo Printer", logo_uri="https://rp.example.com/logo.png")
    tokens = connect(client, acct, cred)
    assert userinfo(client, tokens["access_token"]) == 200

    page = client.get("/account/applications")
    assert page.status_code == 200, page.text
    doc = soup(page.text)
    app = doc.select_one("#connected-applications li.app")
    assert app.find("h2").get_text(strip=True) == "Photo Printer"
    assert app.find("img")["src"] == "https://rp.example.com/logo.png"
    assert [li.get_text(strip=True) for li in app.select("ul.permissions li")] == [
        "Confirm who you are", "See your name and language", "See your email address",
        "Keep access while you are not using the application"]
    facts = dict(zip([d.get_text() for d in app.find_all("dt")], [d.get_text() for d in app.find_all("dd")],
                     strict=True))
    today = now().strftime("%Y-%m-%d")
    assert facts["First approved"] == today and facts["Last used"].startswith(today)

    listed = client.get("/account/applications.json")
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    [entry] = listed.json()["applications"]
    assert entry["clientId"] == cred.client_id and entry["name"] == "Photo Printer"
    assert entry["scopes"] == SCOPE.split() and entry["permissions"][0] == "Confirm who you are"

    r = post_form(client, page, "app")
    assert r.status_code == 303
    after = client.get(r.headers["location"])
    assert "Photo Printer no longer has access" in after.text
    assert soup(after.text).select("#connected-applications li") == []
    assert client.get("/account/applications.json").json() == {"applications": []}

    # The application's tokens stop at once: userinfo, introspection, refresh.
    assert userinfo(client, tokens["access_token"]) == 401
    intro = client.post("/oauth/introspect", data={"token": tokens["access_token"]},
                        auth=(cred.client_id, cred.client_secret))
    assert intro.json() == {"active": False}
    refreshed = client.post("/oauth/token.php", data={"grant_type": "refresh_token",
                                                      "refresh_token": tokens["refresh_token"]},
                            auth=(cred.client_id, cred.client_secret))
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    with db.read() as s:
        assert s.scalars(select(Consent)).all() == []
        assert all(g.revoked_at is not None for g in s.scalars(select(Grant)))
        [event] = audit.search(s, action="connected_app.revoked")
        assert event.actor == f"user:{acct.user_id}" and event.details["client_id"] == cred.client_id

    # The next login asks for consent again.
    url = "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                "redirect_uri": cred.redirect_uri, "scope": "openid"})
    assert "userAuthorization" in client.get(url).text


def test_revoking_another_users_application_is_refused_and_logged(client, app, make_account, make_credential, db):
    from starlette.testclient import TestClient

    mallory, victim = make_account(), make_account()
    cred = make_credential(scope=SCOPE)
    connect(client, mallory, cred)
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as other:
        victim_tokens = connect(other, victim, cred)
    with db.read() as s:
        victim_consent = s.scalar(select(Consent.id).where(Consent.user_id == victim.user_id))
    page = client.get("/account/applications")
    r = post_form(client, page, "app", app=str(victim_consent))
    assert r.status_code == 404 and "not found" in r.text
    for guess in ("999999", "abc", ""):
        assert post_form(client, page, "app", app=guess).status_code == 404
    assert userinfo(client, victim_tokens["access_token"]) == 200
    with db.read() as s:
        assert s.get(Consent, victim_consent) is not None
        refused = audit.search(s, action="connected_app.revoke_refused")
        assert len(refused) == 4 and refused[-1].actor == f"user:{mallory.user_id}"
        assert f"consent:{victim_consent}" in {e.target for e in refused}


def test_revoke_without_the_csrf_token_changes_nothing(client, make_account, make_credential, db):
    acct = make_account()
    cred = make_credential(scope=SCOPE)
    tokens = connect(client, acct, cred)
    page = client.get("/account/applications")
    app_id = soup(page.text).find("input", attrs={"name": "app"})["value"]
    for data in ({"app": app_id}, {"app": app_id, "token": "forged"}):
        r = client.post("/account/applications", data=data)
        assert r.status_code == 403 and "Nothing was changed" in r.text
    assert userinfo(client, tokens["access_token"]) == 200
    assert len(client.get("/account/applications.json").json()["applications"]) == 1


def test_the_json_list_needs_a_login(client):
    r = client.get("/account/applications.json")
    assert r.status_code == 401 and r.json()["error"] == "login_required"
    assert client.get("/account/applications").status_code == 303


def test_last_used_is_the_newest_token_and_admins_see_a_clients_users(db, make_account, make_credential):
    acct = make_account()
    cred = make_credential(scope=SCOPE, name="Backup Tool")
    t = now()
    with db.transaction() as s:
        s.add(Consent(user_id=acct.user_id, credential_id=cred.credential_id, scopes=["openid", "email"],
                      created_at=t - timedelta(days=10), updated_at=t, last_used_at=t - timedelta(days=5),
                      expires_at=t + timedelta(days=300)))
        grant = Grant(credential_id=cred.credential_id, user_id=acct.user_id, scope="openid email",
                      created_at=t - timedelta(days=10))
        s.add(grant)
        s.flush()
        s.add(AccessToken(token_hash=b"x" * 32, grant_id=grant.id, credential_id=cred.credential_id,
                          user_id=acct.user_id, scope="openid", issued_at=t - timedelta(hours=1),
                          expires_at=t + timedelta(hours=1)))
    with db.read() as s:
        [app] = connected_apps.list_for_user(s, acct.user_id)
        assert app.last_used is not None and abs(app.last_used - (t - timedelta(hours=1))) < timedelta(seconds=1)
        assert app.permissions == ("Confirm who you are", "See your email address")
        [(user, apps)] = connected_apps.list_for_client(s, acct.client_id)
        assert user.id == acct.user_id and [a.name for a in apps] == ["Backup Tool"]
    with db.transaction() as s:
        assert connected_apps.revoke(s, user_id=acct.user_id, app_id=app.id, actor="admin:alice") is not None
    with db.read() as s:
        assert connected_apps.list_for_user(s, acct.user_id) == []
        assert s.scalar(select(AccessToken.revoked_at)) is not None


def test_the_revoked_note_names_only_an_application_this_user_revoked(client, make_account, make_credential,
                                                                      make_service):
    jane, john = make_account(), make_account()
    mine = make_credential(scope=SCOPE, name="Photo Printer")
    theirs = make_credential(scope=SCOPE, name="John's Secret Tool")
    sso = make_credential(scope="clientarea:sso clientarea:services", name="Panel SSO",
                          grant_type="single_sign_on", service_id=make_service(john.client_id))
    connect(client, john, theirs)
    client.cookies.clear()
    connect(client, jane, mine)

    def note(credential_id: int) -> str:
        page = client.get(f"/account/applications?revoked={credential_id}")
        assert page.status_code == 200
        return page.text

    # Still connected: nothing was revoked.
    assert "no longer has access" not in note(mine.credential_id)
    # Someone else's application, a single sign-on credential, a credential that does not exist.
    for other in (theirs.credential_id, sso.credential_id, 999_999):
        text = note(other)
        assert "no longer has access" not in text and "John" not in text and "Panel SSO" not in text
    r = post_form(client, client.get("/account/applications"), "app")
    assert r.status_code == 303
    assert "Photo Printer no longer has access" in client.get(r.headers["location"]).text
