"""What each kind of admin sees and may do: links in the navigation, 200 or 403 for each page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hospes.store.models import ApiRole, ClientAccount, OAuthCredential
from tests.admin import API, CLIENTS, FULL, OIDC, admin_session, nav_labels

PAGES = {
    "OpenID Connect": "/admin/oauth",
    "Resource servers": "/admin/resources",
    "Clients": "/admin/clients",
    "API credentials": "/admin/api",
    "Admins": "/admin/admins",
    "Signing keys": "/admin/keys",
    "Audit log": "/admin/audit",
}

KINDS = [
    ("full", FULL, {"OpenID Connect", "Resource servers", "Clients", "API credentials", "Admins", "Signing keys",
                        "Audit log"}),
    ("oidc", OIDC, {"OpenID Connect", "Resource servers"}),
    ("clients", CLIENTS, {"Clients"}),
    ("api-only", API, set()),
    ("oidc+clients", OIDC + CLIENTS, {"OpenID Connect", "Resource servers", "Clients"}),
]


@pytest.mark.parametrize(("name", "permissions", "allowed"), KINDS, ids=[k[0] for k in KINDS])
def test_navigation_and_pages_follow_permissions(client, db, make_account, make_credential, name, permissions,
                                                 allowed):
    admin_session(client, db, "staff", permissions)
    acct = make_account()
    cred = make_credential()
    home = client.get("/admin/")
    assert home.status_code == 200
    assert set(nav_labels(home.text)) == {"Dashboard"} | allowed
    extra = {"OpenID Connect": [f"/admin/oauth/{cred.credential_id}", "/admin/oauth/new",
                                f"/admin/oauth/{cred.credential_id}/reset"],
             "Resource servers": ["/admin/resources/new"],
             "Clients": [f"/admin/clients/{acct.client_id}", f"/admin/users/{acct.user_id}"],
             "Signing keys": ["/admin/keys/rotate"]}
    for label, url in PAGES.items():
        for u in [url, *extra.get(label, [])]:
            r = client.get(u)
            if label in allowed:
                assert r.status_code == 200, (u, r.text)
            else:
                assert r.status_code == 403, u
                assert "You do not have access to this page" in r.text
                # The refusal page still shows only the links this admin may use.
                assert set(nav_labels(r.text)) == {"Dashboard"} | allowed
    if not allowed:
        assert "for the API" in home.text


def test_forbidden_posts_change_nothing(client, db, make_account, make_credential):
    admin_session(client, db, "olivia", OIDC)
    acct = make_account()
    token = client.get("/admin/oauth/new").text.split('name="token" value="')[1].split('"')[0]
    r = client.post(f"/admin/clients/{acct.client_id}", data={"token": token, "status": "Closed"})
    assert r.status_code == 403
    r = client.post("/admin/api/roles", data={"token": token, "name": "X", "all_actions": "1"})
    assert r.status_code == 403
    with db.transaction() as s:
        assert s.get(ClientAccount, acct.client_id).status == "Active"
        assert s.scalar(select(ApiRole)) is None


def test_clients_admin_cannot_touch_credentials(client, db, make_credential):
    admin_session(client, db, "carl", CLIENTS)
    cred = make_credential()
    token = client.get("/admin/clients").text.split('name="token" value="')[1].split('"')[0]
    assert client.post(f"/admin/oauth/{cred.credential_id}/delete", data={"token": token}).status_code == 403
    assert client.post(f"/admin/oauth/{cred.credential_id}/reset", data={"token": token}).status_code == 403
    with db.transaction() as s:
        assert s.get(OAuthCredential, cred.credential_id) is not None


def test_permission_change_takes_effect_on_the_next_request(client, db):
    from hospes.store.models import Admin

    admin_session(client, db, "staff", FULL)
    assert client.get("/admin/audit").status_code == 200
    with db.transaction() as s:
        s.scalar(select(Admin).where(Admin.username == "staff")).permissions = ["Manage Clients"]
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/clients").status_code == 200


def _token(page_text: str) -> str:
    return page_text.split('name="token" value="')[1].split('"')[0]


@pytest.mark.parametrize("permissions", [OIDC, OIDC + CLIENTS + API + ["Configure Application Links"]],
                         ids=["oidc", "all-but-sso"])
def test_single_sign_on_credentials_need_manage_single_sign_on(client, db, make_account, make_service,
                                                               make_credential, permissions):
    """Whoever holds a single_sign_on credential's secret can log in to the client area as the service's
    owner, so "Configure OpenID Connect" alone neither lists it nor resets, edits or deletes it."""
    acct = make_account()
    sso = make_credential(scope="clientarea:sso clientarea:services", name="Panel SSO",
                          grant_type="single_sign_on", service_id=make_service(acct.client_id))
    oidc = make_credential(name="Photo Printer")
    admin_session(client, db, "olivia", permissions)
    listing = client.get("/admin/oauth")
    assert listing.status_code == 200 and "Photo Printer" in listing.text
    assert "Panel SSO" not in listing.text and sso.client_id not in listing.text
    token = _token(listing.text)
    for path in ("", "/reset", "/delete"):
        assert client.get(f"/admin/oauth/{sso.credential_id}{path}").status_code == 404, path
        assert client.post(f"/admin/oauth/{sso.credential_id}{path}",
                           data={"token": token, "name": "Taken over"}).status_code == 404, path
    # The secret still works (it was not reset), and nothing changed.
    r = client.post("/oauth/token.php", data={"grant_type": "single_sign_on", "client_id": sso.client_id,
                                              "client_secret": sso.client_secret,
                                              "scope": "clientarea:sso clientarea:services"})
    assert r.status_code == 200, r.text
    with db.transaction() as s:
        assert s.get(OAuthCredential, sso.credential_id).name == "Panel SSO"
    assert client.get(f"/admin/oauth/{oidc.credential_id}/reset").status_code == 200


@pytest.mark.parametrize("permissions", [OIDC + ["Manage Single Sign-On"], FULL], ids=["oidc+sso", "full"])
def test_with_manage_single_sign_on_the_credential_can_be_managed(client, db, make_account, make_service,
                                                                  make_credential, permissions):
    acct = make_account()
    sso = make_credential(scope="clientarea:sso clientarea:services", name="Panel SSO",
                          grant_type="single_sign_on", service_id=make_service(acct.client_id))
    admin_session(client, db, "sam", permissions)
    assert "Panel SSO" in client.get("/admin/oauth").text
    confirm = client.get(f"/admin/oauth/{sso.credential_id}/reset")
    assert confirm.status_code == 200
    reset = client.post(f"/admin/oauth/{sso.credential_id}/reset", data={"token": _token(confirm.text)})
    assert reset.status_code == 200 and "The client secret was reset" in reset.text
