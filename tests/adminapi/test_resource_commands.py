"""AddResourceServer, GetResourceServers, UpdateResourceServer, DeleteResourceServer through /includes/api.php:
scopes as PHP keyed arrays, the fields the CLI's --json prints, WHMCS's envelope for every refusal (nothing
stored), a role that lacks the action refused, deleting revokes the resource's grants, and the audit rows with
the caller as actor."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hospes.clock import now
from hospes.store.models import Grant, Resource
from tests.adminapi import (
    Api,
    api_cred_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    audit_rows,
    count,
    make_api_credential,
    text,
)

PANEL = "https://panel.example.com/api"
SCOPES = [("scopes[panel:read]", "Read your panel"), ("scopes[panel:write]", "Change your panel's settings")]


def add(api: Api, *extra: tuple[str, str], resource: str = PANEL, scopes: list[tuple[str, str]] = SCOPES,
        **kw: Any) -> dict[str, Any]:
    return api.ok("AddResourceServer", [("resource", resource), ("name", "Control panel"), *scopes, *extra], **kw)


def listed(api: Api) -> list[dict[str, Any]]:
    body = api.ok("GetResourceServers")
    assert body["totalresults"] == len(body["resources"])
    resources: list[dict[str, Any]] = body["resources"]
    return resources


def test_add_answers_the_resource_and_get_lists_it(api, db):
    body = add(api, ("tokenFormat", "jwt"), ("requireAcr", "2"))
    assert body == {
        "result": "success", "resourceId": body["resourceId"], "identifier": PANEL, "name": "Control panel",
        "tokenFormat": "jwt", "requireAcr": "2",
        "scopes": [{"name": "panel:read", "description": "Read your panel"},
                   {"name": "panel:write", "description": "Change your panel's settings"}],
    }
    plain = add(api, resource="https://status.example.com", scopes=[("scopes[status:read]", "See the status")])
    assert plain["tokenFormat"] == "opaque" and plain["requireAcr"] is None
    assert listed(api) == [{k: v for k, v in b.items() if k != "result"} for b in (body, plain)]

    [row] = audit_rows(db, "resource.add")[:1]
    assert row.actor == f"api:apiadmin:{api.cred.identifier[:8]}" and row.ip_address == "127.0.0.1"
    assert row.target == f"resource:{body['resourceId']}"
    assert row.details["identifier"] == PANEL and row.details["scopes"] == ["panel:read", "panel:write"]
    assert row.details["format"] == "jwt" and row.details["require_acr"] == "2"


def test_get_in_xml_repeats_each_resource_and_scope(api):
    add(api)
    root = api.xml("GetResourceServers")
    assert text(root, "result") == "success" and text(root, "totalresults") == "1"
    [resource] = root.findall("resources")
    assert text(resource, "identifier") == PANEL and text(resource, "requireAcr") == ""
    assert [text(s, "name") for s in resource.findall("scopes")] == ["panel:read", "panel:write"]


ADD_ERRORS = [
    # (parameters, the message)
    ([("name", "P"), *SCOPES], "The identifier must be an absolute URI"),
    ([("resource", "http://panel.example.com/api"), ("name", "P"), *SCOPES], "must use https"),
    ([("resource", PANEL + "#x"), ("name", "P"), *SCOPES], "fragment"),
    ([("resource", PANEL + "?a=b"), ("name", "P"), *SCOPES], "query"),
    ([("resource", "/api"), ("name", "P"), *SCOPES], "absolute"),
    ([("resource", "http://127.0.0.1:8000/api/v1"), ("name", "P"), *SCOPES], "Hospes's own resource"),
    ([("resource", PANEL), *SCOPES], "The name must be"),
    ([("resource", PANEL), ("name", "P")], "A resource needs at least one scope."),
    ([("resource", PANEL), ("name", "P"), ("scopes", "panel:read")], "scopes[NAME]=DESCRIPTION"),
    ([("resource", PANEL), ("name", "P"), ("scopes[]", "Read")], "RFC 6749"),
    ([("resource", PANEL), ("name", "P"), ("scopes[panel read]", "Read")], "RFC 6749"),
    ([("resource", PANEL), ("name", "P"), ('scopes[panel"read]', "Read")], "RFC 6749"),
    ([("resource", PANEL), ("name", "P"), ("scopes[openid]", "Log in")], "one of Hospes's own scopes"),
    ([("resource", PANEL), ("name", "P"), ("scopes[a]", "A"), ("scopes[a]", "Again")], "given twice"),
    ([("resource", PANEL), ("name", "P"), ("scopes[a]", "")], "needs a description"),
    ([("resource", PANEL), ("name", "P"), ("scopes[a]", "R\x01")], "control characters"),
    ([("resource", PANEL), ("name", "P"), *SCOPES, ("tokenFormat", "paseto")], "opaque, jwt"),
    ([("resource", PANEL), ("name", "P"), *SCOPES, ("requireAcr", "3")], "The required acr must be one of: 1, 2"),
]


@pytest.mark.parametrize(("params", "expected"), ADD_ERRORS)
def test_add_refuses_bad_input_in_whmcs_envelope_and_stores_nothing(api, db, params, expected):
    message = api.error("AddResourceServer", params)
    assert expected in message
    assert count(db, Resource) == 0 and audit_rows(db, "resource.add") == []


def test_names_taken_by_another_resource_are_refused(api, db):
    add(api)
    assert "exists already" in api.error("AddResourceServer", [("resource", PANEL), ("name", "P"),
                                                               ("scopes[other]", "Other")])
    message = api.error("AddResourceServer", [("resource", "https://other.example.com"), ("name", "P"),
                                              ("scopes[panel:read]", "Mine")])
    assert message == f"The scope 'panel:read' belongs to the resource {PANEL}."
    assert count(db, Resource) == 1


def test_update_changes_what_is_given_and_keeps_the_rest(api, db):
    made = add(api, ("requireAcr", "2"))
    rid = str(made["resourceId"])
    body = api.ok("UpdateResourceServer", {"resourceId": rid, "name": "Panel"})
    assert body["name"] == "Panel" and body["scopes"] == made["scopes"] and body["requireAcr"] == "2"
    body = api.ok("UpdateResourceServer", [("resourceId", rid), ("tokenFormat", "jwt"), ("requireAcr", ""),
                                           ("scopes[panel:admin]", "Run your panel")])
    assert body["tokenFormat"] == "jwt" and body["requireAcr"] is None and body["name"] == "Panel"
    assert body["scopes"] == [{"name": "panel:admin", "description": "Run your panel"}]
    assert listed(api) == [{k: v for k, v in body.items() if k != "result"}]
    rows = audit_rows(db, "resource.update")
    assert [r.target for r in rows] == [f"resource:{rid}"] * 2
    assert rows[1].details["scopes"] == ["panel:admin"] and rows[1].details["format"] == "jwt"
    assert rows[1].actor == f"api:apiadmin:{api.cred.identifier[:8]}"


@pytest.mark.parametrize(("params", "expected"), [
    ({}, "A resourceId is required."),
    ({"resourceId": "999"}, "Resource not found."),
    ({"resourceId": "99999999999999999999"}, "Resource not found."),
    ({"resourceId": "x"}, "Resource not found."),
    ({"resourceId": "1", "tokenFormat": "paseto"}, "opaque, jwt"),
    ({"resourceId": "1", "requireAcr": "9"}, "The required acr must be one of"),
    ({"resourceId": "1", "name": "P\x1b[2J"}, "control characters"),
    ({"resourceId": "1", "scopes[profile]": "Yours"}, "one of Hospes's own scopes"),
])
def test_update_refuses_bad_input_and_changes_nothing(api, params, expected):
    before = add(api)
    assert before["resourceId"] == 1
    assert expected in api.error("UpdateResourceServer", params)
    assert listed(api) == [{k: v for k, v in before.items() if k != "result"}]


def test_delete_revokes_the_resources_grants(api, db, make_account, make_credential):
    made = add(api)
    account, cred = make_account(), make_credential()
    with db.transaction() as s:
        grants = [Grant(credential_id=cred.credential_id, user_id=account.user_id, scope="openid panel:read",
                        resource=resource, created_at=now()) for resource in (PANEL, None)]
        s.add_all(grants)
        s.flush()
        ids = [g.id for g in grants]
    assert api.ok("DeleteResourceServer", {"resourceId": str(made["resourceId"])}) == {
        "result": "success", "resourceId": made["resourceId"]}
    with db.read() as s:
        revoked = {g.id: g.revoked_at is not None for g in s.scalars(select(Grant))}
    assert revoked == {ids[0]: True, ids[1]: False}
    assert listed(api) == []
    [row] = audit_rows(db, "resource.delete")
    assert row.details == {"identifier": PANEL} and row.ip_address == "127.0.0.1"
    assert api.error("DeleteResourceServer", {"resourceId": str(made["resourceId"])}) == "Resource not found."
    assert api.error("DeleteResourceServer", {}) == "A resourceId is required."


def test_a_role_without_the_action_is_refused(api, db):
    reader = make_api_credential(db, "reader", actions=["GetResourceServers"])
    assert api.ok("GetResourceServers", cred=reader)["resources"] == []
    for action, params in (("AddResourceServer", [("resource", PANEL), ("name", "P"), *SCOPES]),
                           ("UpdateResourceServer", [("resourceId", "1"), ("name", "P")]),
                           ("DeleteResourceServer", [("resourceId", "1")])):
        message = api.error(action, params, cred=reader, status=403)
        assert message == f'Invalid Permissions: API action "{action.lower()}" is not allowed'
    assert count(db, Resource) == 0
    writer = make_api_credential(db, "writer", actions=["AddResourceServer"])
    assert add(api, cred=writer)["resourceId"]
    [row] = audit_rows(db, "resource.add")
    assert row.actor == f"api:writer:{writer.identifier[:8]}"
