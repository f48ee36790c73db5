"""The owner's Single Sign-On controls: the account's "Allow Single Sign-On" switch at /account/sso and each
invited user's permission at /account/users. Owner only, CSRF-protected, audited, and in force at once,
for tokens already minted too (they are checked again at redemption)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.sso import tokens
from hospes.store.models import AuditEvent, ClientAccount, User, UserClient
from tests.clientarea import assert_accessible, invite, login, soup
from tests.conftest import Account


def fields(html: str, action: str) -> dict[str, Any]:
    form = soup(html).find("form", attrs={"action": lambda a: bool(a) and action in a})
    assert form is not None, html
    out: dict[str, Any] = {}
    for i in form.find_all("input"):
        if not i.get("name"):
            continue
        if i.get("type") == "checkbox" and not i.has_attr("checked"):
            continue
        out.setdefault(i["name"], []).append(i.get("value", "on"))
    return out


def allow_sso(db: Any, client_id: int) -> bool:
    with db.read() as s:
        client = s.get(ClientAccount, client_id)
        assert client is not None
        return client.allow_sso


def permissions(db: Any, user_id: int, client_id: int) -> list[str]:
    with db.read() as s:
        link = s.get(UserClient, (user_id, client_id))
        assert link is not None
        return list(link.permissions)


def audit(db: Any, action: str) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def mint(db: Any, settings: Any, acct: Account) -> str:
    with db.transaction() as s:
        client = s.get(ClientAccount, acct.client_id)
        user = s.get(User, acct.user_id)
        assert client is not None and user is not None
        return tokens.mint(s, settings, client=client, user=user, destination="clientarea:services").access_token


def redeem(app: Any, token: str) -> Any:
    """In a browser of its own, so a refusal is seen without the owner's session."""
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as browser:
        return browser.get("/oauth/singlesignon.php", params={"access_token": token})


@pytest.fixture
def jane(make_account: Any) -> Account:
    acct: Account = make_account(first_name="Jane")
    return acct


# -- /account/sso -----------------------------------------------------------------------------------


def test_owner_turns_single_sign_on_off_and_on(client, db, jane):
    login(client, jane)
    page = client.get("/account/sso")
    assert page.status_code == 200
    assert_accessible(page.text)
    box = soup(page.text).find("input", attrs={"name": "allow_sso"})
    assert box["type"] == "checkbox" and box.has_attr("checked")
    assert soup(page.text).find("label", attrs={"for": box["id"]}).get_text(strip=True) == "Allow Single Sign-On"
    data = fields(page.text, "/account/sso")
    data.pop("allow_sso")
    r = client.post("/account/sso", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/account/sso?saved=1"
    assert allow_sso(db, jane.client_id) is False
    saved = client.get(r.headers["location"])
    assert "saved" in soup(saved.text).find(attrs={"role": "status"}).get_text()
    assert not soup(saved.text).find("input", attrs={"name": "allow_sso"}).has_attr("checked")
    [event] = audit(db, "client.updated")
    assert event.actor == f"user:{jane.user_id}" and event.target == f"client:{jane.client_id}"
    assert event.details["allowSingleSignOn"] == 0 and event.details["fields"] == ["allowSingleSignOn"]
    r = client.post("/account/sso", data={**data, "allow_sso": "1"})
    assert r.status_code == 303 and allow_sso(db, jane.client_id) is True
    assert [e.details["allowSingleSignOn"] for e in audit(db, "client.updated")] == [0, 1]
    # Saving without a change writes no audit row.
    client.post("/account/sso", data={**data, "allow_sso": "1"})
    assert len(audit(db, "client.updated")) == 2


def test_switch_off_stops_a_token_minted_before(client, db, settings, app, jane):
    token = mint(db, settings, jane)
    login(client, jane)
    data = fields(client.get("/account/sso").text, "/account/sso")
    data.pop("allow_sso")
    assert client.post("/account/sso", data=data).status_code == 303
    r = redeem(app, token)
    assert r.status_code == 403
    assert f"Single Sign-On authentication denied per configuration for User ID: {jane.user_id}" in r.text
    assert "hospes_session" not in r.headers.get("set-cookie", "")
    # And the next one cannot even be minted.
    with pytest.raises(tokens.SsoError, match=f"SSO authentication blocked for client {jane.client_id}"):
        mint(db, settings, jane)


def test_sso_switch_without_csrf_changes_nothing(client, db, jane):
    login(client, jane)
    client.get("/account/sso")
    for data in ({}, {"token": "x" * 40}):
        r = client.post("/account/sso", data=data)
        assert r.status_code == 403
    assert allow_sso(db, jane.client_id) is True and audit(db, "client.updated") == []


def test_an_invited_user_cannot_change_the_switch(client, db, jane):
    ivan = invite(db, jane.client_id, permissions=["sso"])
    login(client, ivan)
    page = client.get("/account/sso")
    assert page.status_code == 403 and soup(page.text).find("input", attrs={"name": "allow_sso"}) is None
    token = soup(page.text).find("input", attrs={"name": "token"})["value"]
    r = client.post("/account/sso", data={"token": token})
    assert r.status_code == 403
    assert allow_sso(db, jane.client_id) is True and audit(db, "client.updated") == []


def test_another_customers_account_is_404(client, db, jane, make_account):
    other = make_account()
    login(client, jane)
    token = soup(client.get("/account/sso").text).find("input", attrs={"name": "token"})["value"]
    for path in ("/account/sso", "/account/users"):
        assert client.get(f"{path}?client={other.client_id}").status_code == 404
        assert client.post(f"{path}?client={other.client_id}", data={"token": token}).status_code == 404
    assert allow_sso(db, other.client_id) is True


# -- /account/users ---------------------------------------------------------------------------------


def test_owner_gives_and_takes_an_invited_users_permission(client, db, settings, app, jane):
    ivan = invite(db, jane.client_id, permissions=["productsso"])
    login(client, jane)
    page = client.get("/account/users")
    assert page.status_code == 200
    doc = assert_accessible(page.text)
    rows = {tr.th.get_text(strip=True): tr for tr in doc.find("tbody").find_all("tr")}
    assert set(rows) == {"Jane Doe", "Ivan Invitee"}
    assert rows["Jane Doe"].find("input", attrs={"type": "checkbox"}) is None
    assert "Always allowed" in rows["Jane Doe"].get_text()
    box = rows["Ivan Invitee"].find("input", attrs={"type": "checkbox"})
    assert not box.has_attr("checked") and box["value"] == str(ivan.user_id)
    assert "Allow Single Sign-On" in doc.find("label", attrs={"for": box["id"]}).get_text()

    # Not allowed yet: a token for Ivan is minted but refused at redemption.
    refused = redeem(app, mint(db, settings, ivan))
    assert refused.status_code == 403
    assert f"denied per configuration for User ID: {ivan.user_id}" in refused.text

    data = fields(page.text, "/account/users")
    r = client.post("/account/users", data={**data, "sso": [str(ivan.user_id)]})
    assert r.status_code == 303 and r.headers["location"] == "/account/users?saved=1"
    assert sorted(permissions(db, ivan.user_id, jane.client_id)) == ["productsso", "sso"]
    [event] = audit(db, "user.permissions_updated")
    assert event.actor == f"user:{jane.user_id}" and event.target == f"user:{ivan.user_id}"
    assert event.details == {"client_id": jane.client_id, "permission": "sso", "allowed": True}

    minted_while_allowed = mint(db, settings, ivan)
    ok = redeem(app, mint(db, settings, ivan))
    assert ok.status_code == 303 and urlsplit(ok.headers["location"]).path == "/clientarea.php"

    # Taken away: the token minted while it was allowed stops too.
    r = client.post("/account/users", data=fields(client.get("/account/users").text, "/account/users") | {"sso": []})
    assert r.status_code == 303
    assert permissions(db, ivan.user_id, jane.client_id) == ["productsso"]
    assert [e.details["allowed"] for e in audit(db, "user.permissions_updated")] == [True, False]
    late = redeem(app, minted_while_allowed)
    assert late.status_code == 403 and "denied per configuration" in late.text


def test_only_users_shown_are_changed_and_forged_ids_are_ignored(client, db, jane, make_account):
    ivan = invite(db, jane.client_id, permissions=["sso"])
    stranger = make_account()
    login(client, jane)
    token = soup(client.get("/account/users").text).find("input", attrs={"name": "token"})["value"]
    # Ivan not in the posted list: left alone. The stranger and the owner are not invited users here.
    r = client.post("/account/users", data={"token": token, "user": [str(stranger.user_id), str(jane.user_id), "x"],
                                            "sso": []})
    assert r.status_code == 303
    assert permissions(db, ivan.user_id, jane.client_id) == ["sso"]
    assert "sso" in permissions(db, jane.user_id, jane.client_id)
    assert "sso" in permissions(db, stranger.user_id, stranger.client_id)
    assert audit(db, "user.permissions_updated") == []


def test_users_page_is_owner_only_and_needs_csrf(client, db, jane):
    ivan = invite(db, jane.client_id, permissions=[])
    login(client, jane)
    client.get("/account/users")
    r = client.post("/account/users", data={"user": str(ivan.user_id), "sso": str(ivan.user_id)})
    assert r.status_code == 403 and permissions(db, ivan.user_id, jane.client_id) == []
    client.cookies.clear()
    login(client, ivan)
    page = client.get("/account/users")
    assert page.status_code == 403 and "Ivan Invitee" not in page.text.replace("Signed in as Ivan Invitee", "")
    token = soup(page.text).find("input", attrs={"name": "token"})["value"]
    r = client.post("/account/users", data={"token": token, "user": str(ivan.user_id), "sso": str(ivan.user_id)})
    assert r.status_code == 403 and permissions(db, ivan.user_id, jane.client_id) == []
