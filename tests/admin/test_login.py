"""Admin login and logout: Argon2id check, throttling, CSRF, the session cookie, and the audit rows they leave."""

from __future__ import annotations

import hashlib
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.accounts.passwords import verify_password
from hospes.app import create_app
from hospes.config import load_settings
from hospes.store.models import Admin, AdminSession, LoginFailure
from tests.admin import audit_rows, csrf_token, login, make_admin
from tests.conftest import PASSWORD


def test_every_admin_page_needs_a_session(client, db):
    r = client.get("/admin/oauth")
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/login?next=/admin/oauth"
    assert client.get("/admin/").headers["location"].startswith("/admin/login")
    r = client.get("/admin")
    assert r.status_code in (301, 302, 303, 307, 308) and r.headers["location"].endswith("/admin/")
    # A post without a session changes nothing and goes to the login page.
    r = client.post("/admin/oauth/new", data={"name": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"


def test_login_page_is_accessible_form(client, db):
    r = client.get("/admin/login")
    assert r.status_code == 200
    assert '<label for="username">Username</label>' in r.text
    assert '<label for="password">Password</label>' in r.text
    assert 'name="token"' in r.text
    assert r.headers["x-frame-options"] == "DENY" and "content-security-policy" in r.headers


def test_login_success_sets_strict_cookie_and_a_hashed_session(client, db):
    make_admin(db, "alice")
    r = login(client, "alice", next_="/admin/clients")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/admin/clients"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("hospes_admin=")
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/admin" in low and "secure" not in low
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    with db.transaction() as s:
        row = s.scalar(select(AdminSession))
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).digest()
    assert client.get("/admin/").status_code == 200
    events = audit_rows(db, "admin.login")
    assert len(events) == 1 and events[0].actor == "admin:alice" and events[0].ip_address == "testclient"


def test_login_rehashes_a_password_stored_with_the_old_parameters(client, db):
    admin_id = make_admin(db, "alice")
    old = PasswordHasher(memory_cost=65536, time_cost=3, parallelism=4).hash(PASSWORD)  # argon2-cffi's defaults
    with db.transaction() as s:
        s.get(Admin, admin_id).password_hash = old
    assert login(client, "alice", "wrong password!").status_code == 401
    with db.read() as s:
        assert s.get(Admin, admin_id).password_hash == old  # only a right password rehashes
    assert login(client, "alice").status_code == 303
    with db.read() as s:
        stored = s.get(Admin, admin_id).password_hash
    assert stored != old and "$m=19456,t=2,p=1$" in stored
    assert verify_password(PASSWORD, stored) and not verify_password("wrong password!", stored)
    client.cookies.clear()
    assert login(client, "alice").status_code == 303


def test_login_refuses_a_foreign_next(client, db):
    make_admin(db, "alice")
    r = login(client, "alice", next_="//evil.example.com/admin/")
    assert r.status_code == 303 and r.headers["location"] == "/admin/"


def test_wrong_password_shows_message_and_is_audited(client, db):
    make_admin(db, "alice")
    r = login(client, "alice", "wrong password!")
    assert r.status_code == 401
    assert "Login Details Incorrect. Please try again." in r.text
    assert 'value="alice"' in r.text
    assert "hospes_admin" not in r.headers.get("set-cookie", "")
    assert client.get("/admin/").status_code == 303
    r = login(client, "nobody", "whatever123")
    assert r.status_code == 401
    failed = audit_rows(db, "admin.login_failed")
    assert [e.actor for e in failed] == ["admin:alice", "admin:nobody"]
    assert all("wrong password" not in str(e.details) and "whatever" not in str(e.details) for e in failed)


def test_login_is_throttled_per_username(client, db):
    make_admin(db, "alice")
    for _ in range(5):
        assert login(client, "alice", "wrong password!").status_code == 401
    r = login(client, "alice", PASSWORD)
    assert r.status_code == 429
    assert "Too many failed login attempts" in r.text
    with db.transaction() as s:
        keys = set(s.scalars(select(LoginFailure.key)))
    assert "admin-account:alice" in keys and "admin-address:testclient" in keys
    # Another admin from the same address is not locked out by alice's window.
    make_admin(db, "bob")
    assert login(client, "bob").status_code == 303


def test_login_is_throttled_per_address(client, db):
    make_admin(db, "alice")
    for i in range(30):
        with db.transaction() as s:
            from hospes.accounts import throttle
            from hospes.accounts.login import ADMIN_ADDRESS
            throttle.admit(s, [(ADMIN_ADDRESS, "testclient")])
    assert login(client, "alice").status_code == 429


def test_login_without_csrf_is_refused(client, db):
    make_admin(db, "alice")
    client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403
    assert "Nothing was changed" in r.text
    r = client.post("/admin/login", data={"username": "alice", "password": PASSWORD, "token": "forged"})
    assert r.status_code == 403
    assert audit_rows(db, "admin.login") == []


def test_logout_needs_csrf_and_ends_the_session(client, db):
    make_admin(db, "alice")
    assert login(client, "alice").status_code == 303
    page = client.get("/admin/")
    assert client.post("/admin/logout", data={}).status_code == 403
    assert client.get("/admin/").status_code == 200
    old = client.cookies.get("hospes_admin")
    r = client.post("/admin/logout", data={"token": csrf_token(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?logged_out=1"
    assert client.get("/admin/").status_code == 303
    # The old cookie is dead on the server, not only forgotten by the browser.
    client.cookies.set("hospes_admin", old, path="/admin")
    assert client.get("/admin/").status_code == 303
    assert len(audit_rows(db, "admin.logout")) == 1


def test_disabled_admin_cannot_log_in_and_loses_the_session(client, db):
    from hospes.store.models import Admin

    make_admin(db, "alice")
    assert login(client, "alice").status_code == 303
    with db.transaction() as s:
        s.scalar(select(Admin).where(Admin.username == "alice")).disabled = True
    assert client.get("/admin/").status_code == 303
    assert login(client, "alice").status_code == 401


def test_cookie_path_follows_the_issuer_path(database_url, db, tmp_path: Path):
    settings = load_settings(database_url=database_url, var_dir=str(tmp_path / "var2"),
                             secret_key="test-secret-key-" + "x" * 32, issuer="http://127.0.0.1:8000/portal")
    make_admin(db, "alice")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        page = c.get("/portal/admin/login")
        assert page.status_code == 200 and 'action="/portal/admin/login"' in page.text
        r = c.post("/portal/admin/login", data={"token": csrf_token(page.text), "username": "alice",
                                                 "password": PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/portal/admin/"
        assert "path=/portal/admin" in r.headers["set-cookie"].lower()
        assert c.get("/portal/admin/").status_code == 200
