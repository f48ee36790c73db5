"""Admins from the admin area: add (a temporary password shown once), permissions, disable and enable, password
reset; never without an enabled full administrator; every change audited. And the signing keys' page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.store.models import Admin, SigningKey
from tests.admin import CLIENTS, OIDC, admin_session, audit_rows, login, make_admin, nav_labels, post, text_of

BASE = "http://127.0.0.1:8000"


def admin_id(db: Any, username: str) -> int:
    with db.read() as s:
        found = s.scalar(select(Admin.id).where(Admin.username == username))
        assert found is not None
        return int(found)


def test_a_new_admin_logs_in_with_the_password_shown_once(client, app, db):
    admin_session(client, db, "root")
    assert "Admins" in nav_labels(client.get("/admin/").text)
    r = post(client, "/admin/admins", [("username", "support1"), ("email", "s1@example.com"), ("role", "limited"),
                                       ("permission", "Manage Clients")])
    assert r.status_code == 201, r.text
    password = text_of(r.text, "admin-password")
    assert password and len(password) == 16
    assert password not in client.get("/admin/admins").text
    with TestClient(app, base_url=BASE, follow_redirects=False) as other:
        assert login(other, "support1", password).status_code == 303
        assert set(nav_labels(other.get("/admin/").text)) == {"Dashboard", "Clients"}
        assert other.get("/admin/admins").status_code == 403
    [entry] = audit_rows(db, "admin.created")
    assert entry.actor == "admin:root" and entry.details["permissions"] == ["Manage Clients"]
    assert password not in str(entry.details)


def test_adding_needs_a_choice_of_permissions_and_a_free_username(client, db):
    admin_session(client, db, "root")
    r = post(client, "/admin/admins", {"username": "x1", "email": "x1@example.com", "role": "limited"})
    assert r.status_code == 400 and "Choose at least one permission" in r.text
    r = post(client, "/admin/admins", {"username": "root", "email": "r@example.com", "role": "full"})
    assert r.status_code == 400 and "already exists" in r.text
    assert audit_rows(db, "admin.created") == []


def test_permissions_change_at_the_next_click(client, app, db):
    admin_session(client, db, "root")
    make_admin(db, "olga", OIDC)
    with TestClient(app, base_url=BASE, follow_redirects=False) as olga:
        assert login(olga, "olga").status_code == 303
        assert olga.get("/admin/clients").status_code == 403
        url = f"/admin/admins/{admin_id(db, 'olga')}"
        r = post(client, url, [("role", "limited"), ("permission", "Manage Clients")])
        assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
        assert olga.get("/admin/clients").status_code == 200
        assert olga.get("/admin/oauth").status_code == 403
    [entry] = audit_rows(db, "admin.permissions_changed")
    assert entry.details == {"username": "olga", "before": OIDC, "after": CLIENTS}


def test_disabling_ends_the_sessions_and_enabling_lets_them_back(client, app, db):
    admin_session(client, db, "root")
    make_admin(db, "carl", CLIENTS)
    url = f"/admin/admins/{admin_id(db, 'carl')}"
    with TestClient(app, base_url=BASE, follow_redirects=False) as carl:
        assert login(carl, "carl").status_code == 303
        assert carl.get("/admin/clients").status_code == 200
        assert post(client, url + "/disable", {}, page=url).status_code == 303
        assert carl.get("/admin/clients").status_code == 303  # to the login page
        assert login(carl, "carl").status_code == 401
        assert text_of(client.get(url).text, "admin-login") == "Disabled"
        assert post(client, url + "/enable", {}, page=url).status_code == 303
        assert login(carl, "carl").status_code == 303
    assert [e.action for e in audit_rows(db) if e.action in ("admin.disabled", "admin.enabled")] == [
        "admin.disabled", "admin.enabled"]


def test_the_last_full_administrator_stays(client, db):
    admin_session(client, db, "root")
    url = f"/admin/admins/{admin_id(db, 'root')}"
    r = post(client, url + "/disable", {}, page=url)
    assert r.status_code == 400 and "last enabled full administrator" in r.text
    r = post(client, url, [("role", "limited"), ("permission", "Manage Clients")])
    assert r.status_code == 400 and "last enabled full administrator" in r.text
    with db.read() as s:
        root = s.get(Admin, admin_id(db, "root"))
        assert root is not None and root.permissions == [] and root.disabled is False
    # With a second full administrator, the first may step down.
    make_admin(db, "second")
    assert post(client, url, [("role", "limited"), ("permission", "Manage Clients")]).status_code == 303


def test_a_password_reset_ends_the_sessions_and_gives_a_temporary_password(client, app, db):
    admin_session(client, db, "root")
    make_admin(db, "pat", CLIENTS)
    url = f"/admin/admins/{admin_id(db, 'pat')}"
    with TestClient(app, base_url=BASE, follow_redirects=False) as pat:
        assert login(pat, "pat").status_code == 303
        assert "Reset password" in client.get(url + "/password").text
        r = post(client, url + "/password", {})
        assert r.status_code == 200
        temporary = text_of(r.text, "admin-password")
        assert temporary
        assert pat.get("/admin/clients").status_code == 303  # the session ended
        assert login(pat, "pat").status_code == 401  # the old password no longer works
        assert login(pat, "pat", temporary).status_code == 303
    [entry] = audit_rows(db, "admin.password_reset")
    assert entry.actor == "admin:root" and entry.details["temporary"] is True and entry.details["sessions_ended"] == 1


def test_only_full_admins_manage_admins_and_keys(client, db):
    admin_session(client, db, "carl", CLIENTS)
    assert "Admins" not in nav_labels(client.get("/admin/").text)
    for url in ("/admin/admins", f"/admin/admins/{admin_id(db, 'carl')}", "/admin/keys", "/admin/keys/rotate"):
        assert client.get(url).status_code == 403, url


def test_the_keys_page_lists_the_keys_and_rotates_them_safely(client, db):
    admin_session(client, db, "root")
    page = client.get("/admin/keys")
    assert page.status_code == 200
    with db.read() as s:
        before = {k.kid for k in s.scalars(select(SigningKey))}
    assert before and all(kid in page.text for kid in before)
    assert page.text.count('data-state="active"') == len(before)
    r = post(client, "/admin/keys/rotate", {})
    assert r.status_code == 303 and r.headers["location"] == "/admin/keys?done=rotated"
    page = client.get("/admin/keys").text
    # The rotation hospes keys rotate makes: the new keys are upcoming, the old ones still sign until then.
    assert page.count('data-state="pending"') == 2 and page.count('data-state="active"') == 2
    assert "Upcoming" in page
    [entry] = audit_rows(db, "keys.rotated")
    assert entry.actor == "admin:root" and entry.details["at_once"] is False and len(entry.details["created"]) == 2
    # At once: the new keys sign now, the old ones are withdrawn.
    assert post(client, "/admin/keys/rotate", {"at_once": "yes"}).status_code == 303
    page = client.get("/admin/keys").text
    assert page.count('data-state="active"') == 2 and page.count('data-state="unpublished"') == 4


def test_two_full_admins_demoting_each_other_at_once_leave_one(db):
    """The rule holds under a race: of two demotions at once, one waits for the other and is refused."""
    import threading

    from hospes.accounts import staff
    from hospes.accounts.service import AccountError

    first, second = make_admin(db, "ann"), make_admin(db, "bob")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(admin: int) -> None:
        barrier.wait()
        try:
            with db.transaction() as s:
                staff.set_permissions(s, admin, CLIENTS, actor="cli")
            outcomes.append("demoted")
        except AccountError:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["demoted", "refused"]
    with db.read() as s:
        assert sum(1 for a in staff.every(s) if a.full and not a.disabled) == 1
