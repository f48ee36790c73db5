"""Supporting a customer from the admin area (/admin/users/{id}): each button changes what the person or their
applications would notice, and leaves an audit entry naming the admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.accounts import twofactor
from hospes.config import load_settings
from hospes.store.models import BackchannelLogout, LoginSession, User
from tests import mailbox
from tests.account import BASE, login, login_password, post_form
from tests.admin import CLIENTS, OIDC, admin_session, audit_rows, post, text_of
from tests.browserless import tokens_for

LINK = re.compile(r"http://127\.0\.0\.1:8000/password/reset/[A-Za-z0-9_-]+")
NEW = "a brand new passphrase"


def browser(app: Any) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False)


def logged_in(http: Any) -> bool:
    """Whether the client area opens for this browser (instead of sending it to the login page)."""
    r = http.get("/clientarea.php")
    return r.status_code == 200 and "/login" not in r.headers.get("location", "")


def user_row(db: Any, user_id: int) -> User:
    with db.read() as s:
        found = s.get(User, user_id)
        assert found is not None
        return found


def test_the_clients_page_links_to_each_person(client, db, make_account):
    admin_session(client, db, permissions=CLIENTS)
    acct = make_account(first_name="Dora", last_name="Dunn")
    page = client.get(f"/admin/clients/{acct.client_id}").text
    assert f'href="/admin/users/{acct.user_id}">Dora Dunn</a>' in page
    r = client.get(f"/admin/users/{acct.user_id}")
    assert r.status_code == 200 and "Dora Dunn" in r.text
    assert client.get("/admin/users/99999").status_code == 404


def test_only_admins_who_manage_clients_may_help_a_customer(client, db, make_account):
    admin_session(client, db, "olivia", OIDC)
    acct = make_account()
    assert client.get(f"/admin/users/{acct.user_id}").status_code == 403
    token = re.search(r'name="token" value="([^"]+)"', client.get("/admin/oauth").text).group(1)  # type: ignore[union-attr]
    r = client.post(f"/admin/users/{acct.user_id}/verify-email", data={"token": token})
    assert r.status_code == 403
    assert user_row(db, acct.user_id).email_verified is False


def test_ending_the_sessions_logs_the_person_out_and_queues_back_channel_logout(client, app, db, make_account,
                                                                                make_credential):
    admin_session(client, db, "sam", CLIENTS)
    acct = make_account()
    rp = make_credential(backchannel_logout_uri="https://rp.example.com/backchannel")
    with browser(app) as laptop:
        tokens_for(laptop, acct, rp, "openid")
        assert logged_in(laptop)
        page = client.get(f"/admin/users/{acct.user_id}")
        assert "Firefox" not in page.text and 'id="customer-sessions"' in page.text
        r = post(client, f"/admin/users/{acct.user_id}/end-sessions", {}, page=f"/admin/users/{acct.user_id}")
        assert r.status_code == 303 and r.headers["location"].endswith("?done=sessions")
        assert not logged_in(laptop)
    with db.read() as s:
        sid = s.scalar(select(LoginSession.sid).where(LoginSession.user_id == acct.user_id))
        queued = s.scalars(select(BackchannelLogout).where(BackchannelLogout.credential_id == rp.credential_id)).all()
    assert [q.sid for q in queued] == [sid]
    [entry] = audit_rows(db, "session.ended_all")
    assert entry.actor == "admin:sam" and entry.target == f"user:{acct.user_id}" and entry.details == {"count": 1}
    assert "No session" in client.get(f"/admin/users/{acct.user_id}").text


def test_one_session_ends_and_the_other_stays(client, app, db, make_account):
    admin_session(client, db, permissions=CLIENTS)
    acct = make_account()
    with browser(app) as laptop, browser(app) as phone:
        login(laptop, acct)
        login(phone, acct)
        with db.read() as s:
            first = s.scalar(select(LoginSession.id).where(LoginSession.user_id == acct.user_id)
                             .order_by(LoginSession.id))
        url = f"/admin/users/{acct.user_id}"
        r = post(client, url + "/end-session", {"session": str(first)}, page=url)
        assert r.status_code == 303
        assert not logged_in(laptop) and logged_in(phone)
        # Someone else's session, or one already ended: 404, nothing changes.
        assert post(client, url + "/end-session", {"session": str(first)}, page=url).status_code == 404
        other = make_account()
        assert post(client, f"/admin/users/{other.user_id}/end-session", {"session": str(first + 1)},
                    page=url).status_code == 404
        assert logged_in(phone)


def test_revoking_a_connected_application_stops_its_tokens(client, app, db, make_account, make_credential):
    admin_session(client, db, "sam", CLIENTS)
    acct = make_account()
    rp = make_credential(name="Billing Helper")
    with browser(app) as laptop:
        access = tokens_for(laptop, acct, rp, "openid profile")["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert client.get("/oauth/userinfo", headers=bearer).status_code == 200
    url = f"/admin/users/{acct.user_id}"
    page = client.get(url).text
    assert "Billing Helper" in page
    app_id = re.search(r'name="app" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    r = post(client, url + "/revoke", {"app": app_id}, page=url)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=revoked")
    assert client.get("/oauth/userinfo", headers=bearer).status_code == 401
    assert "No connected application" in client.get(url).text
    [entry] = audit_rows(db, "connected_app.revoked")
    assert entry.actor == "admin:sam" and entry.target == f"oauth_credential:{rp.credential_id}"


def test_unlocking_lets_a_throttled_login_through(client, app, db, make_account):
    admin_session(client, db, "sam", CLIENTS)
    acct = make_account()
    with browser(app) as guesser:
        for _ in range(5):
            assert login_password(guesser, acct.__class__(acct.client_id, acct.user_id, acct.email,
                                                           "wrong password!")).status_code == 401
    url = f"/admin/users/{acct.user_id}"
    with browser(app) as owner:
        assert login_password(owner, acct).status_code == 429
        assert text_of(client.get(url).text, "customer-throttle").startswith("Yes")
        r = post(client, url + "/unlock", {}, page=url)
        assert r.status_code == 303
        assert text_of(client.get(url).text, "customer-throttle") == "No"
        login(owner, acct)
        assert logged_in(owner)
    assert [e.actor for e in audit_rows(db, "user.unlocked")] == ["admin:sam"]


def test_turning_the_second_factor_off(client, app, db, make_account):
    admin_session(client, db, "sam", CLIENTS)
    acct = make_account()
    keys = twofactor.Keys(app.state.web.secret_key)
    with db.transaction() as s:
        secret = twofactor.begin(s, keys, acct.user_id)
    with db.transaction() as s:
        assert twofactor.confirm(s, keys, acct.user_id, pyotp.TOTP(secret).now())[0].ok
    url = f"/admin/users/{acct.user_id}"
    with browser(app) as owner:
        asked = login_password(owner, acct)
        assert asked.status_code == 200 and "second_factor" in asked.text
    assert text_of(client.get(url).text, "customer-2fa") == "On"
    r = post(client, url + "/second-factor-reset", {}, page=url)
    assert r.status_code == 303
    assert text_of(client.get(url).text, "customer-2fa") == "Off"
    with browser(app) as owner:
        assert login_password(owner, acct).status_code == 303
    [entry] = audit_rows(db, "user.second_factor_reset")
    assert entry.actor == "admin:sam" and entry.target == f"user:{acct.user_id}"


@pytest.fixture
def mail_app(settings: Any, db: Any, smtp: Any) -> Any:
    """The app with HOSPES_SMTP_URL naming the test's SMTP server (tests/mailbox.py)."""
    from hospes.app import create_app

    return create_app(load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                                    secret_key=settings.secret_key, smtp_url=f"smtp://127.0.0.1:{smtp[1]}"))


@pytest.fixture
def mail_admin(mail_app: Any) -> Iterator[TestClient]:
    with browser(mail_app) as c:
        yield c


def test_a_reset_link_arrives_by_mail_and_sets_a_new_password(mail_admin, mail_app, db, make_account, smtp):
    inbox, _ = smtp
    admin_session(mail_admin, db, "sam", CLIENTS)
    acct = make_account(first_name="Rita")
    url = f"/admin/users/{acct.user_id}"
    r = post(mail_admin, url + "/reset-link", {}, page=url)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=reset_sent")
    [message] = inbox.wait(1)
    assert message["To"] == acct.email
    found = LINK.search(mailbox.text(message))
    assert found
    with browser(mail_app) as owner:
        page = owner.get(found.group(0)[len(BASE):])
        assert page.status_code == 200
        r = post_form(owner, page, "new_password", new_password=NEW, new_password_confirm=NEW)
        assert r.status_code in (200, 303), r.text
        login(owner, acct.__class__(acct.client_id, acct.user_id, acct.email, NEW))
    [entry] = audit_rows(db, "user.password_reset_sent")
    assert entry.actor == "admin:sam" and entry.details == {"to": acct.email}
    assert found.group(0).rsplit("/", 1)[1] not in str(entry.details)


def test_name_and_email_are_edited_and_the_email_marked_verified(client, db, make_account):
    admin_session(client, db, "sam", CLIENTS)
    acct = make_account(first_name="Ed", last_name="Old")
    taken = make_account()
    url = f"/admin/users/{acct.user_id}"
    r = post(client, url, {"first_name": "Edna", "last_name": "New", "email": taken.email})
    assert r.status_code == 400 and "already exists" in r.text and 'value="Edna"' in r.text
    r = post(client, url, {"first_name": "Edna", "last_name": "New", "email": "edna@new.example"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    row = user_row(db, acct.user_id)
    assert (row.first_name, row.last_name, row.email, row.email_verified) == ("Edna", "New", "edna@new.example",
                                                                               False)
    assert post(client, url, {"first_name": "Edna", "last_name": "New", "email": "edna@new.example"}
                ).headers["location"].endswith("?done=unchanged")
    assert "(not verified)" in text_of(client.get(url).text, "customer-email")  # type: ignore[operator]
    assert post(client, url + "/verify-email", {}, page=url).status_code == 303
    assert user_row(db, acct.user_id).email_verified is True
    assert text_of(client.get(url).text, "customer-email") == "edna@new.example (verified)"
    [edit] = audit_rows(db, "user.updated")
    assert edit.actor == "admin:sam" and edit.details == {"fields": ["email", "first_name", "last_name"]}
    [verified] = audit_rows(db, "user.email_verified")
    assert verified.details == {"email": "edna@new.example", "by": "staff"}
