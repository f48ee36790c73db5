"""Resource servers by hand: add, list, edit, delete after a confirmation; the rules' messages shown in the form
with what was typed kept; CSRF on every form; only for admins with "Configure OpenID Connect"."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

from hospes.clock import now
from hospes.oauth import resources
from hospes.store.models import Grant
from tests.admin import CLIENTS, FULL, OIDC, admin_session, audit_rows, csrf_token, nav_labels, post, text_of

PANEL = "https://panel.example.com/api"
SCOPES = "panel:read = Read your control panel\n\npanel:write = Change your panel's settings\n"


def _resources(db: Any) -> list[dict[str, Any]]:
    with db.read() as s:
        return [resources.as_dict(row) for row in resources.every(s)]


def _add(client: Any, **fields: str) -> Any:
    data = {"identifier": PANEL, "name": "Control panel", "scopes": SCOPES, "token_format": "opaque",
            "require_acr": "", **fields}
    return post(client, "/admin/resources/new", data)


def _field(html: str, name: str) -> str:
    """What a form field holds: an input's value, a textarea's text, a select's chosen option."""
    node = BeautifulSoup(html, "html.parser").find(attrs={"name": name})
    assert node is not None, name
    if node.name == "textarea":
        return str(node.get_text())
    if node.name == "select":
        chosen = node.find("option", selected=True)
        return str(chosen["value"]) if chosen else ""
    return str(node.get("value", ""))


def test_add_then_list_then_edit(client, db):
    admin_session(client, db, "olivia", OIDC)
    assert "Resource servers" in nav_labels(client.get("/admin/").text)
    empty = client.get("/admin/resources")
    assert empty.status_code == 200 and "There are no resource servers yet." in empty.text

    r = _add(client, token_format="jwt", require_acr="2")
    assert r.status_code == 303
    [made] = _resources(db)
    assert made == {"resourceId": made["resourceId"], "identifier": PANEL, "name": "Control panel",
                    "tokenFormat": "jwt", "requireAcr": "2",
                    "scopes": [{"name": "panel:read", "description": "Read your control panel"},
                               {"name": "panel:write", "description": "Change your panel's settings"}]}
    rid = made["resourceId"]
    assert r.headers["location"] == f"/admin/resources/{rid}?done=added"
    edit = client.get(r.headers["location"])
    assert "The resource server was added." in edit.text
    assert text_of(edit.text, "identifier") == PANEL
    assert _field(edit.text, "name") == "Control panel" and _field(edit.text, "token_format") == "jwt"
    assert _field(edit.text, "require_acr") == "2"
    assert _field(edit.text, "scopes") == ("panel:read = Read your control panel\n"
                                           "panel:write = Change your panel's settings")

    listing = client.get("/admin/resources").text
    assert "Control panel" in listing and PANEL in listing and "panel:write" in listing
    assert "jwt; acr 2 required" in listing

    # The edit form changes everything but the identifier (a posted one is ignored).
    r = post(client, f"/admin/resources/{rid}", {"identifier": "https://elsewhere.example.com", "name": "Panel",
                                                  "scopes": "panel:admin=Run your panel", "token_format": "opaque",
                                                  "require_acr": ""})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/resources/{rid}?done=saved"
    assert _resources(db) == [{"resourceId": rid, "identifier": PANEL, "name": "Panel", "tokenFormat": "opaque",
                               "requireAcr": None,
                               "scopes": [{"name": "panel:admin", "description": "Run your panel"}]}]
    assert "Your changes were saved." in client.get(r.headers["location"]).text

    added, updated = audit_rows(db, "resource.add"), audit_rows(db, "resource.update")
    assert [(e.actor, e.target) for e in added + updated] == [("admin:olivia", f"resource:{rid}")] * 2
    assert added[0].ip_address and updated[0].details["scopes"] == ["panel:admin"]


BAD_ADDS = [
    ({"identifier": "http://panel.example.com/api"}, "must use https"),
    ({"identifier": PANEL + "#frag"}, "must not contain a fragment"),
    ({"identifier": "panel"}, "absolute"),
    ({"identifier": "http://127.0.0.1:8000/api/v1"}, "Hospes&#39;s own resource"),
    ({"name": ""}, "The name must be 1 to 255 characters."),
    ({"scopes": ""}, "A resource needs at least one scope."),
    ({"scopes": "panel:read Read it"}, "Scopes, line 1: write the scope"),
    ({"scopes": "openid = Log in"}, "one of Hospes&#39;s own scopes"),
    ({"scopes": "a b = Two words"}, "RFC 6749 §3.3"),
    ({"scopes": "a = A\na = Again"}, "given twice"),
    ({"scopes": "a = "}, "needs a description"),
    ({"token_format": "paseto"}, "The token format must be one of: opaque, jwt."),
    ({"require_acr": "3"}, "The required acr must be one of: 1, 2."),
]


def test_bad_input_is_shown_in_the_form_with_what_was_typed(client, db):
    admin_session(client, db, permissions=OIDC)
    for fields, expected in BAD_ADDS:
        r = _add(client, **fields)
        assert r.status_code == 400, (fields, r.text)
        error = BeautifulSoup(r.text, "html.parser").find(id="form-error")
        assert error is not None and expected.replace("&#39;", "'") in error.get_text(), (fields, error)
        typed = {"identifier": PANEL, "name": "Control panel", "scopes": SCOPES, **fields}
        for name in ("identifier", "name"):
            assert _field(r.text, name) == typed[name], (fields, name)
        assert _field(r.text, "scopes").strip() == typed["scopes"].strip(), fields
    assert _resources(db) == [] and audit_rows(db, "resource.add") == []


def test_a_scope_of_another_resource_is_refused_on_edit_too(client, db):
    admin_session(client, db, permissions=OIDC)
    _add(client)
    _add(client, identifier="https://status.example.com", name="Status", scopes="status:read = See the status")
    before = _resources(db)
    rid = before[1]["resourceId"]
    r = post(client, f"/admin/resources/{rid}", {"name": "Status", "scopes": "panel:read = Mine",
                                                  "token_format": "opaque"})
    assert r.status_code == 400
    assert f"The scope 'panel:read' belongs to the resource {PANEL}." in text_of(r.text, "form-error")
    assert _field(r.text, "scopes") == "panel:read = Mine"
    assert _resources(db) == before


def test_delete_asks_first_then_revokes_the_resources_grants(client, db, make_account, make_credential):
    admin_session(client, db, permissions=OIDC)
    _add(client)
    [made] = _resources(db)
    rid = made["resourceId"]
    account, cred = make_account(), make_credential()
    with db.transaction() as s:
        g = Grant(credential_id=cred.credential_id, user_id=account.user_id, scope="panel:read", resource=PANEL,
                  created_at=now())
        s.add(g)
        s.flush()
        grant_id = g.id

    ask = client.get(f"/admin/resources/{rid}/delete")
    assert ask.status_code == 200 and "This cannot be undone" in ask.text and PANEL in ask.text
    assert len(_resources(db)) == 1  # asking changed nothing
    r = client.post(f"/admin/resources/{rid}/delete", data={"token": csrf_token(ask.text)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/resources?done=deleted"
    assert "The resource server was deleted." in client.get(r.headers["location"]).text
    assert _resources(db) == []
    with db.read() as s:
        assert s.get(Grant, grant_id).revoked_at is not None
    [row] = audit_rows(db, "resource.delete")
    assert row.actor.startswith("admin:") and row.details == {"identifier": PANEL}
    assert client.get(f"/admin/resources/{rid}").status_code == 404
    assert client.get(f"/admin/resources/{rid}/delete").status_code == 404


def test_every_form_needs_the_csrf_token(client, db):
    admin_session(client, db, permissions=OIDC)
    _add(client)
    [made] = _resources(db)
    rid = made["resourceId"]
    fields = {"identifier": "https://status.example.com", "name": "X", "scopes": "x = X", "token_format": "opaque"}
    for url in ("/admin/resources/new", f"/admin/resources/{rid}", f"/admin/resources/{rid}/delete"):
        for token in (None, "forged"):
            r = client.post(url, data={**fields, **({"token": token} if token else {})})
            assert r.status_code == 403 and "Nothing was changed" in r.text, url
    assert _resources(db) == [made]


def test_only_admins_who_configure_openid_connect(client, db):
    admin_session(client, db, "carl", CLIENTS)
    assert "Resource servers" not in nav_labels(client.get("/admin/").text)
    for url in ("/admin/resources", "/admin/resources/new", "/admin/resources/1", "/admin/resources/1/delete"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client.get("/admin/clients").text)
    r = client.post("/admin/resources/new", data={"token": token, "identifier": PANEL, "name": "P",
                                                  "scopes": "p = P"})
    assert r.status_code == 403 and _resources(db) == []


def test_a_full_admin_sees_it_on_the_dashboard(client, db):
    admin_session(client, db, "fiona", FULL)
    home = client.get("/admin/").text
    assert "Resource servers" in nav_labels(home) and "/admin/resources" in home


def test_the_openid_connect_form_offers_the_resources_scopes(client, db):
    admin_session(client, db, permissions=OIDC)
    _add(client)
    form = client.get("/admin/oauth/new").text
    assert 'value="panel:read"' in form and "Read your control panel (Control panel)" in form
    r = post(client, "/admin/oauth/new", [("name", "Panel app"), ("redirect_uri", "https://rp.example.com/cb"),
                                          ("scope", "openid"), ("scope", "panel:read"), ("op", "save")])
    assert r.status_code == 201, r.text
    soup = BeautifulSoup(r.text, "html.parser")
    checked = [box["value"] for box in soup.find_all("input", attrs={"name": "scope"}) if box.has_attr("checked")]
    assert checked == ["openid", "panel:read"]
