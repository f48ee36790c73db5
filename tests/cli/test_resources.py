"""``hospes resources add|list|delete``: the contract's JSON, the text listing, one-line errors for every kind of
bad input (nothing stored), deleting a resource revokes the grants given for it, OAuth credentials may hold a
resource's scopes, and each change leaves its audit entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hospes.clock import now
from hospes.store.models import AuditEvent, Grant, Resource, ResourceScope
from tests.cli.test_cli import Hospes, InProcess, assert_one_line_error

PANEL = "https://panel.example.com/api"
ADD = ("resources", "add", "--identifier", PANEL, "--name", "Control panel", "--scope", "panel:read=Read your panel",
       "--scope", "panel:write=Change your panel's settings")


@pytest.fixture
def hospes(database_url: str, tmp_path: Path) -> Hospes:
    return Hospes(database_url, tmp_path)


@pytest.fixture
def hospes_here(database_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any) -> Hospes:
    return InProcess(database_url, tmp_path, monkeypatch, capsys)


def add_with(*changes: str, identifier: str = PANEL) -> tuple[str, ...]:
    """``resources add`` with one valid scope and whatever options ``changes`` adds."""
    return ("resources", "add", "--identifier", identifier, "--name", "Status page", *changes)


def scope(value: str) -> tuple[str, str]:
    return ("--scope", value)


def test_add_prints_the_contracts_json_and_list_shows_it(hospes):
    made = hospes.json(*ADD, "--token-format", "jwt", "--require-acr", "2")
    assert isinstance(made["resourceId"], int)
    assert made == {
        "resourceId": made["resourceId"], "identifier": PANEL, "name": "Control panel", "tokenFormat": "jwt",
        "requireAcr": "2",
        "scopes": [{"name": "panel:read", "description": "Read your panel"},
                   {"name": "panel:write", "description": "Change your panel's settings"}],
    }
    status = hospes.json(*add_with(*scope("status:read=See the status page"), identifier="https://status.example.com"))
    assert status["tokenFormat"] == "opaque" and status["requireAcr"] is None

    listed = hospes.json("resources", "list")
    assert listed == {"resources": [made, status]}

    r = hospes("resources", "list")
    assert r.returncode == 0, r.stderr
    assert f"{made['resourceId']}\t{PANEL}\tControl panel (jwt tokens, requires acr 2)" in r.stdout
    assert "\tpanel:read: Read your panel" in r.stdout
    assert "https://status.example.com\tStatus page (opaque tokens)" in r.stdout


def test_list_says_when_there_is_none(hospes_here):
    r = hospes_here("resources", "list")
    assert r.returncode == 0 and r.stdout.strip() == "No resources."
    assert json.loads(hospes_here("resources", "list", "--json").stdout) == {"resources": []}


OK_SCOPE = scope("a:read=Read A")
BAD_INPUT = [
    # (id, setup commands, command, what the one line says)
    ("http identifier on a public host", [], add_with(*OK_SCOPE, identifier="http://panel.example.com/api"), "https"),
    ("identifier with a fragment", [], add_with(*OK_SCOPE, identifier="https://panel.example.com/api#x"), "fragment"),
    ("identifier with a query", [], add_with(*OK_SCOPE, identifier="https://panel.example.com/api?v=1"), "query"),
    ("relative identifier", [], add_with(*OK_SCOPE, identifier="/api"), "absolute"),
    ("not a URI", [], add_with(*OK_SCOPE, identifier="panel"), "absolute"),
    ("Hospes's own customer API", [], add_with(*OK_SCOPE, identifier="http://127.0.0.1:8000/api/v1"),
     "Hospes's own resource"),
    ("Hospes's own MCP server", [], add_with(*OK_SCOPE, identifier="http://127.0.0.1:8000/mcp/"),
     "Hospes's own resource"),
    ("identifier taken", [ADD], add_with(*OK_SCOPE), "exists already"),
    ("scope name with a space", [], add_with(*scope("panel read=Read")), "RFC 6749"),
    ("scope name with a quote", [], add_with(*scope('panel"read=Read')), "RFC 6749"),
    ("scope name with a backslash", [], add_with(*scope("panel\\read=Read")), "RFC 6749"),
    ("empty scope name", [], add_with(*scope("=Read")), "RFC 6749"),
    ("built-in scope openid", [], add_with(*scope("openid=Log in")), "one of Hospes's own scopes"),
    ("built-in scope of the customer API", [], add_with(*scope("tickets:read=Tickets")), "one of Hospes's own scopes"),
    ("scope given twice", [], add_with(*OK_SCOPE, *scope("a:read=Again")), "given twice"),
    ("scope of another resource", [ADD], add_with(*scope("panel:read=Mine"), identifier="https://other.example.com"),
     f"belongs to the resource {PANEL}"),
    ("scope without a description", [], add_with(*scope("a:read=")), "needs a description"),
    ("scope without =", [], add_with(*scope("a:read")), "NAME=DESCRIPTION"),
    ("description too long", [], add_with(*scope("a:read=" + "x" * 501)), "at most 500"),
    ("control character in a description", [], add_with(*scope("a:read=Re\x01ad")), "control characters"),
    ("empty name", [], ("resources", "add", "--identifier", PANEL, "--name", " ", *OK_SCOPE), "The name must be"),
    ("bad token format", [], add_with(*OK_SCOPE, "--token-format", "paseto"), "opaque, jwt"),
    ("bad required acr", [], add_with(*OK_SCOPE, "--require-acr", "3"), "The required acr must be one of: 1, 2"),
    ("delete unknown", [], ("resources", "delete", "--identifier", PANEL), f"No resource with the identifier {PANEL}"),
]


@pytest.mark.parametrize(("setup", "command", "expected"), [case[1:] for case in BAD_INPUT],
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_line_on_stderr_and_stores_nothing(hospes_here, setup, command, expected):
    for step in setup:
        done = hospes_here(*step)
        assert done.returncode == 0, done.stderr
    before = json.loads(hospes_here("resources", "list", "--json").stdout)
    r = hospes_here(*command, "--json")
    assert r.returncode == 1
    assert_one_line_error(r, expected)
    assert json.loads(hospes_here("resources", "list", "--json").stdout) == before


def test_a_missing_scope_is_a_usage_error(hospes_here):
    r = hospes_here("resources", "add", "--identifier", PANEL, "--name", "Panel", "--json")
    assert r.returncode == 2  # click's usage error
    assert_one_line_error(r, "--scope")


def test_bad_input_as_a_shell_sees_it(hospes):
    line = assert_one_line_error(hospes(*add_with(*scope("openid=Log in"))), "one of Hospes's own scopes")
    assert line.startswith("error: ")
    assert hospes("resources", "add", "--identifier", PANEL, "--name", "x", *OK_SCOPE,
                  "--token-format", "paseto").returncode == 1


def grant(s: Any, account: Any, cred: Any, resource: str | None) -> int:
    row = Grant(credential_id=cred.credential_id, user_id=account.user_id, scope="openid", resource=resource,
                created_at=now())
    s.add(row)
    s.flush()
    return row.id


def test_delete_revokes_the_grants_given_for_the_resource_and_nothing_else(hospes_here, db, make_account,
                                                                          make_credential):
    made = hospes_here.json(*ADD)
    other = hospes_here.json(*add_with(*OK_SCOPE, identifier="https://status.example.com"))
    account, cred = make_account(), make_credential()
    with db.transaction() as s:
        for_panel = grant(s, account, cred, PANEL)
        for_status = grant(s, account, cred, "https://status.example.com")
        for_customer_api = grant(s, account, cred, None)

    gone = hospes_here.json("resources", "delete", "--identifier", PANEL)
    assert gone == {"resourceId": made["resourceId"], "deleted": True}

    with db.read() as s:
        revoked = {g.id: g.revoked_at for g in s.scalars(select(Grant))}
        assert revoked[for_panel] is not None
        assert revoked[for_status] is None and revoked[for_customer_api] is None
        # Its scopes went with it (their names are free again); the other resource's stay.
        assert {sc.name for sc in s.scalars(select(ResourceScope))} == {"a:read"}
        assert [r.id for r in s.scalars(select(Resource))] == [other["resourceId"]]
    assert hospes_here.json("resources", "list")["resources"] == [other]
    again = hospes_here.json(*ADD)  # the identifier and the scope names may be registered again
    assert again["resourceId"] != made["resourceId"]


def test_an_oauth_credential_may_hold_a_resources_scopes_and_no_unknown_one(hospes_here):
    hospes_here.json(*ADD)
    made = hospes_here.json("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                            "openid panel:read", "--name", "Panel app", "--redirect-uri", "https://rp.example.com/cb")
    [listed] = hospes_here.json("oauth-credentials", "list")["clients"]
    assert listed["credentialId"] == made["credentialId"] and listed["scope"] == "openid panel:read"

    r = hospes_here("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                    "openid panel:delete", "--name", "Panel app", "--redirect-uri", "https://rp.example.com/cb")
    assert_one_line_error(r, 'The requested scope "panel:delete" is invalid.')
    # Once the resource is gone, its scope is unknown like any other.
    hospes_here.json("resources", "delete", "--identifier", PANEL)
    r = hospes_here("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                    "openid panel:read", "--name", "Panel app", "--redirect-uri", "https://rp.example.com/cb")
    assert_one_line_error(r, 'The requested scope "panel:read" is invalid.')


def test_each_change_leaves_its_audit_entry(hospes_here, db):
    from hospes.oauth import resources

    made = hospes_here.json(*ADD, "--require-acr", "2")
    with db.transaction() as s:
        resources.update(s, made["resourceId"], name="Panel", scopes=[("panel:read", "Read it")], actor="cli")
    hospes_here.json("resources", "delete", "--identifier", PANEL)
    with db.read() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(r.action, r.actor, r.target) for r in rows] == [
        (action, "cli", f"resource:{made['resourceId']}")
        for action in ("resource.add", "resource.update", "resource.delete")]
    add, update, delete = (r.details for r in rows)
    assert add["identifier"] == PANEL and add["scopes"] == ["panel:read", "panel:write"]
    assert add["format"] == "opaque" and add["require_acr"] == "2" and add["name"] == "Control panel"
    assert update["identifier"] == PANEL and update["scopes"] == ["panel:read"] and update["name"] == "Panel"
    assert delete == {"identifier": PANEL}
