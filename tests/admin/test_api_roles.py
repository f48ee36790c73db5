"""API roles edited and deleted from the admin area: a credential holding the role gets the change at its next
call to /includes/api.php; each change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.adminapi.credentials import create_credential, create_role
from hospes.store.models import ApiRole
from tests.admin import API, FULL, admin_session, audit_rows, make_admin, multi, post


@pytest.fixture
def api(app):
    return TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 50000))


def _call(api, cred, action: str):
    return api.post("/includes/api.php", data={"identifier": cred.identifier, "secret": cred.secret,
                                                "action": action, "responsetype": "json"}).json()


def test_editing_a_role_changes_what_its_credentials_may_call(client, db, api):
    admin_session(client, db, "root", FULL)
    make_admin(db, "robot", API)
    with db.transaction() as s:
        role_id = create_role(s, name="Lister", actions=["ListOAuthCredentials"])
        cred = create_credential(s, admin_username="robot", roles=["Lister"])
    assert _call(api, cred, "ListOAuthCredentials")["result"] == "success"
    assert _call(api, cred, "GetClients")["result"] == "error"
    url = f"/admin/api/roles/{role_id}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="listoauthcredentials" checked' in page.text
    r = post(client, url, multi([("name", "Reader"), ("description", "reads"), ("action", "listoauthcredentials"),
                                 ("other_actions", "GetClients")]))
    assert r.status_code == 303 and r.headers["location"] == "/admin/api?done=role_saved"
    assert _call(api, cred, "GetClients")["result"] == "success"
    # The rules are create_role's: a name another role has, or neither all actions nor any action.
    with db.transaction() as s:
        create_role(s, name="Other", actions=[], all_actions=True)
    assert post(client, url, {"name": "Other", "action": "getclients"}).status_code == 400
    r = post(client, url, {"name": "Reader"})
    assert r.status_code == 400 and "at least one action" in r.text
    [entry] = audit_rows(db, "api_role.updated")
    assert entry.actor == "admin:root" and entry.details["fields"] == ["name", "actions", "description"]
    assert entry.details["actions"] == ["getclients", "listoauthcredentials"]


def test_deleting_a_role_takes_its_actions_away(client, db, api):
    admin_session(client, db, "root", FULL)
    make_admin(db, "robot", API)
    with db.transaction() as s:
        role_id = create_role(s, name="Everything", actions=[], all_actions=True)
        cred = create_credential(s, admin_username="robot", roles=["Everything"])
    assert _call(api, cred, "GetClients")["result"] == "success"
    url = f"/admin/api/roles/{role_id}/delete"
    assert "1 API credential holds it and loses its actions" in client.get(url).text
    r = post(client, url, {})
    assert r.status_code == 303 and r.headers["location"] == "/admin/api?done=role_deleted"
    with db.read() as s:
        assert s.scalar(select(ApiRole)) is None
    assert _call(api, cred, "GetClients")["result"] == "error"
    [entry] = audit_rows(db, "api_role.deleted")
    assert entry.details == {"name": "Everything", "credentials": [cred.identifier]}
    assert client.get(f"/admin/api/roles/{role_id}").status_code == 404
