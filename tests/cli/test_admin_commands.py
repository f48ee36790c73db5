"""The commands that match the admin area: admins, API roles and credentials, client accounts; --version;
help on every option; JSON errors under --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import __version__
from hospes.accounts.passwords import verify_password
from hospes.store.models import Admin, AuditEvent
from tests.cli.test_cli import PASSWORD, Hospes, InProcess, assert_one_line_error


@pytest.fixture
def hospes_here(database_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any) -> Hospes:
    return InProcess(database_url, tmp_path, monkeypatch, capsys)


def admin_row(h: Any, username: str) -> Admin:
    with Session(h.engine()) as s:
        found = s.scalar(select(Admin).where(Admin.username == username))
        assert found is not None
        return found


def actions(h: Any) -> list[tuple[str, str]]:
    with Session(h.engine()) as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_version(hospes_here):
    r = hospes_here("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"hospes {__version__}"


def test_every_option_of_every_command_says_what_it_is_for():
    from hospes.cli import app

    missing = []

    def walk(command: Any, path: str) -> None:
        for param in command.params:
            if param.param_type_name == "option" and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    root = typer.main.get_command(app)
    walk(root, "hospes")
    assert len(getattr(root, "commands", {})) > 10
    assert missing == []


def test_help_of_every_command_is_printed(hospes_here):
    from hospes.cli import app

    def paths(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        subs = getattr(command, "commands", {})
        return [path] + [p for name, sub in subs.items() for p in paths(sub, (*path, name))]

    for path in paths(typer.main.get_command(app), ()):
        r = hospes_here(*path, "--help")
        assert r.returncode == 0 and "Usage:" in r.stdout, (path, r.stderr)


def test_admins_list_disable_enable_permissions(hospes_here):
    h = hospes_here
    assert h("admins", "add", "--username", "root", "--email", "r@example.com", "--password", PASSWORD).returncode == 0
    assert h("admins", "add", "--username", "sue", "--email", "s@example.com", "--password", PASSWORD,
             "--permission", "Manage Clients").returncode == 0
    listed = json.loads(h("admins", "list", "--json").stdout)["admins"]
    assert [(a["username"], a["fullAdministrator"], a["permissions"], a["disabled"]) for a in listed] == [
        ("root", True, [], False), ("sue", False, ["Manage Clients"], False)]
    assert "sue\ts@example.com\tManage Clients" in h("admins", "list").stdout

    done = json.loads(h("admins", "permissions", "--username", "sue", "--permission", "API Access",
                        "--permission", "Manage Clients", "--json").stdout)
    assert done["permissions"] == ["API Access", "Manage Clients"]
    assert admin_row(h, "sue").permissions == ["API Access", "Manage Clients"]
    assert json.loads(h("admins", "disable", "--username", "sue", "--json").stdout)["disabled"] is True
    assert admin_row(h, "sue").disabled is True
    assert h("admins", "enable", "--username", "sue").returncode == 0
    assert admin_row(h, "sue").disabled is False
    # The last enabled full administrator stays one.
    assert_one_line_error(h("admins", "disable", "--username", "root", "--json"), "last enabled full administrator")
    assert_one_line_error(h("admins", "permissions", "--username", "root", "--permission", "API Access"),
                          "last enabled full administrator")
    assert_one_line_error(h("admins", "permissions", "--username", "sue", "--full", "--permission", "API Access"),
                          "one of them")
    assert_one_line_error(h("admins", "disable", "--username", "nobody", "--json"), "no admin named 'nobody'")
    assert ("cli", "admin.permissions_changed") in actions(h) and ("cli", "admin.enabled") in actions(h)


def test_admins_reset_password(hospes_here):
    h = hospes_here
    assert h("admins", "add", "--username", "pat", "--email", "p@example.com", "--password", PASSWORD).returncode == 0
    made = json.loads(h("admins", "reset-password", "--username", "pat", "--json").stdout)
    temporary = made["temporaryPassword"]
    assert len(temporary) == 16 and verify_password(temporary, admin_row(h, "pat").password_hash)
    new = "another long passphrase"
    r = h("admins", "reset-password", "--username", "pat", "--password-stdin", "--json", stdin=new + "\n")
    assert r.returncode == 0 and "temporaryPassword" not in json.loads(r.stdout)
    assert verify_password(new, admin_row(h, "pat").password_hash)
    assert_one_line_error(h("admins", "reset-password", "--username", "pat", "--password", "short", "--json"),
                          "at least")
    assert [a for a in actions(h) if a[1] == "admin.password_reset"] == [("cli", "admin.password_reset")] * 2


def test_api_roles_and_credentials_list_update_delete(hospes_here):
    h = hospes_here
    assert h("admins", "add", "--username", "robot", "--email", "r@example.com", "--password", PASSWORD,
             "--permission", "API Access").returncode == 0
    assert h("api-roles", "create", "--name", "Lister", "--action", "GetClients").returncode == 0
    cred = json.loads(h("api-credentials", "create", "--admin", "robot", "--role", "Lister", "--json").stdout)
    roles = json.loads(h("api-roles", "list", "--json").stdout)["roles"]
    assert [(r["name"], r["actions"], r["allActions"]) for r in roles] == [("Lister", ["getclients"], False)]
    r = h("api-roles", "update", "--name", "Lister", "--new-name", "Reader", "--action", "GetClients",
          "--action", "ListOAuthCredentials", "--json")
    assert json.loads(r.stdout)["actions"] == ["getclients", "listoauthcredentials"]
    # Only the description: the actions stay.
    r = h("api-roles", "update", "--name", "Reader", "--description", "reads", "--json")
    assert json.loads(r.stdout)["actions"] == ["getclients", "listoauthcredentials"]
    [listed] = json.loads(h("api-credentials", "list", "--json").stdout)["credentials"]
    assert listed["identifier"] == cred["identifier"] and listed["roles"] == ["Reader"] and "secret" not in listed
    assert cred["secret"] not in h("api-credentials", "list", "--json").stdout
    assert json.loads(h("api-roles", "delete", "--name", "Reader", "--json").stdout)["deleted"] is True
    assert json.loads(h("api-roles", "list", "--json").stdout)["roles"] == []
    assert json.loads(h("api-credentials", "list", "--json").stdout)["credentials"][0]["roles"] == []
    assert_one_line_error(h("api-roles", "delete", "--name", "Reader", "--json"), "No API role named Reader.")
    assert [a for a in actions(h) if a[1].startswith("api_role.")] == [
        ("cli", "api_role.created"), ("cli", "api_role.updated"), ("cli", "api_role.updated"),
        ("cli", "api_role.deleted")]


def test_clients_list(hospes_here):
    h = hospes_here
    for email, company in (("ann@alpha.example", "Alpha"), ("bob@beta.example", "Beta")):
        assert h("clients", "add", "--email", email, "--first-name", "A", "--last-name", "B", "--password", PASSWORD,
                 "--company", company).returncode == 0
    every = json.loads(h("clients", "list", "--json").stdout)
    assert every["total"] == 2 and [c["email"] for c in every["clients"]] == ["bob@beta.example", "ann@alpha.example"]
    found = json.loads(h("clients", "list", "--search", "alpha", "--json").stdout)
    assert found["total"] == 1 and found["clients"][0]["company"] == "Alpha"
    assert "1 found." in h("clients", "list", "--search", "beta").stdout


def test_errors_under_json_are_one_object_on_stdout(hospes_here):
    usage = hospes_here("admins", "disable", "--json")  # --username missing
    assert usage.returncode == 2 and json.loads(usage.stdout)["error"] == "usage"
    refused = hospes_here("api-roles", "create", "--name", "x", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == {"error": "invalid_input",
                                          "message": "A role needs at least one action, or all actions."}
    plain = hospes_here("api-roles", "create", "--name", "x")
    assert plain.returncode == 1 and plain.stdout == "" and plain.stderr.startswith("error: ")
