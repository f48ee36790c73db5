"""API roles and API credentials by hand, then used at /includes/api.php, then revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.store.models import ApiCredential, ApiRole
from tests.admin import API, FULL, OIDC, admin_session, audit_rows, csrf_token, make_admin, multi, post, text_of


@pytest.fixture
def api(app):
    """A second browser-less caller from 127.0.0.1, which HOSPES_API_ALLOWED_IPS lets in by default."""
    return TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 50000))


def _call(api, identifier: str, secret: str, action: str = "ListOAuthCredentials"):
    return api.post("/includes/api.php", data={"identifier": identifier, "secret": secret, "action": action,
                                                "responsetype": "json"})


def test_page_lists_known_commands(client, db):
    admin_session(client, db, permissions=FULL)
    r = client.get("/admin/api")
    assert r.status_code == 200
    for name in ("listoauthcredentials", "createoauthcredential", "updateoauthcredential", "deleteoauthcredential"):
        assert f'value="{name}"' in r.text
    assert "All actions" in r.text and "Other actions" in r.text


def test_role_and_credential_then_api_call_then_revoke(client, db, api, make_credential):
    admin_session(client, db, "root", FULL)
    make_admin(db, "robot", API)
    make_admin(db, "olivia", OIDC)  # no API Access: not offered as an owner
    make_credential(name="Listed App")

    r = post(client, "/admin/api/roles", multi([("name", "Lister"), ("description", "read only"),
                                                ("action", "listoauthcredentials"), ("other_actions", "GetClients")]),
             page="/admin/api")
    assert r.status_code == 303 and r.headers["location"] == "/admin/api?done=role"
    with db.transaction() as s:
        role = s.scalar(select(ApiRole))
        assert role is not None and role.actions == ["getclients", "listoauthcredentials"] and not role.all_actions
    page = client.get(r.headers["location"])
    assert "Lister" in page.text and "The API role was created." in page.text
    assert '<option value="robot"' in page.text and '<option value="olivia"' not in page.text

    r = client.post("/admin/api/credentials", data={"token": csrf_token(page.text), "admin": "robot",
                                                    "role": ["Lister"], "description": "nightly sync"})
    assert r.status_code == 201, r.text
    identifier, secret = text_of(r.text, "api-identifier"), text_of(r.text, "api-secret")
    assert identifier and secret
    listing = client.get("/admin/api").text
    assert identifier in listing and secret not in listing and "nightly sync" in listing and "Never" in listing

    ok = _call(api, identifier, secret)
    assert ok.status_code == 200, ok.text
    assert ok.json()["result"] == "success" and ok.json()["clients"][0]["name"] == "Listed App"
    forbidden = _call(api, identifier, secret, "DeleteOAuthCredential")
    assert forbidden.status_code == 403 and "Invalid Permissions" in forbidden.json()["message"]

    with db.transaction() as s:
        cred = s.scalar(select(ApiCredential))
        assert cred is not None and cred.last_used_at is not None
    ask = client.get(f"/admin/api/credentials/{cred.id}/revoke")
    assert ask.status_code == 200 and "Continue?" in ask.text
    assert client.post(f"/admin/api/credentials/{cred.id}/revoke", data={}).status_code == 403
    assert _call(api, identifier, secret).json()["result"] == "success"
    r = client.post(f"/admin/api/credentials/{cred.id}/revoke", data={"token": csrf_token(ask.text)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/api?done=revoked"
    refused = _call(api, identifier, secret)
    assert refused.status_code == 403 and refused.json()["result"] == "error"
    assert f"/admin/api/credentials/{cred.id}/revoke" not in client.get("/admin/api").text

    actions = [(e.action, e.actor, e.target) for e in audit_rows(db)
               if e.action.startswith(("api_role.", "api_credential."))]
    assert actions == [("api_role.created", "admin:root", f"api_role:{role.id}"),
                       ("api_credential.created", "admin:root", f"api_credential:{cred.id}"),
                       ("api_credential.revoked", "admin:root", f"api_credential:{cred.id}")]
    assert all(secret not in str(e.details) for e in audit_rows(db))


def test_all_actions_role(client, db, api):
    admin_session(client, db, "root", FULL)
    r = post(client, "/admin/api/roles", {"name": "Everything", "all_actions": "1"}, page="/admin/api")
    assert r.status_code == 303
    page = client.get("/admin/api")
    assert "All actions" in page.text
    r = client.post("/admin/api/credentials", data={"token": csrf_token(page.text), "admin": "root",
                                                    "role": "Everything"})
    identifier, secret = text_of(r.text, "api-identifier"), text_of(r.text, "api-secret")
    assert _call(api, identifier, secret).json()["result"] == "success"


def test_role_and_credential_errors_keep_the_form(client, db):
    admin_session(client, db, "root", FULL)
    r = post(client, "/admin/api/roles", {"name": "Nothing", "description": "kept"}, page="/admin/api")
    assert r.status_code == 400 and "at least one action" in r.text and 'value="kept"' in r.text
    r = post(client, "/admin/api/roles", {"name": "Both", "all_actions": "1", "action": "getclients"},
             page="/admin/api")
    assert r.status_code == 400 and "not both" in r.text
    r = post(client, "/admin/api/roles", {"name": "Bad", "other_actions": "drop;table"}, page="/admin/api")
    assert r.status_code == 400 and "is not an API action name" in r.text
    post(client, "/admin/api/roles", {"name": "R", "action": "getclients"}, page="/admin/api")
    r = post(client, "/admin/api/roles", {"name": "R", "action": "getclients"}, page="/admin/api")
    assert r.status_code == 400 and "already exists" in r.text
    r = post(client, "/admin/api/credentials", {"admin": "root", "description": "no roles"}, page="/admin/api")
    assert r.status_code == 400 and "At least one API role is required." in r.text and 'value="no roles"' in r.text
    make_admin(db, "olivia", OIDC)
    r = post(client, "/admin/api/credentials", {"admin": "olivia", "role": "R"}, page="/admin/api")
    assert r.status_code == 400 and "API Access" in r.text
    with db.transaction() as s:
        assert s.scalar(select(ApiCredential)) is None
        assert [r.name for r in s.scalars(select(ApiRole))] == ["R"]


def test_api_pages_without_csrf_change_nothing(client, db):
    admin_session(client, db, "root", FULL)
    assert client.post("/admin/api/roles", data={"name": "X", "all_actions": "1"}).status_code == 403
    assert client.post("/admin/api/credentials", data={"admin": "root", "role": "X"}).status_code == 403
    with db.transaction() as s:
        assert s.scalar(select(ApiRole)) is None
