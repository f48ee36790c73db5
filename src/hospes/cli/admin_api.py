"""``hospes api-roles create|list|update|delete`` and ``hospes api-credentials create|list|revoke``: who may call
the admin API and what they may do, through the operations of ``hospes.adminapi.credentials`` (the admin pages' too)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, run, run_read

roles_app = typer.Typer(no_args_is_help=True, help="Admin API roles (sets of permitted API actions).")
apicreds_app = typer.Typer(no_args_is_help=True, help="Admin API credentials.")


AllActionsOpt = Annotated[bool, typer.Option("--all-actions", help="Every API action.")]
ActionOpt = Annotated[list[str] | None, typer.Option("--action", help="Repeatable, e.g. CreateOAuthCredential.")]
DescriptionOpt = Annotated[str, typer.Option(help="What the role is for.")]


@roles_app.command("create")
def api_roles_create(
    name: Annotated[str, typer.Option(help="The role's name, unique.")],
    all_actions: AllActionsOpt = False,
    action: ActionOpt = None,
    description: DescriptionOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API role: a set of permitted API actions."""
    from hospes.adminapi.credentials import create_role

    if all_actions and action:
        fail("use --all-actions or --action, not both")
    role_id = run(lambda s: create_role(s, name=name, actions=list(action or []), all_actions=all_actions,
                                        description=description, actor=ACTOR))
    emit({"roleId": role_id, "name": name}, as_json, f"Created API role {name} (id {role_id}).")


@apicreds_app.command("create")
def api_credentials_create(
    admin: Annotated[str, typer.Option(help="The admin's username; the admin needs the API Access permission.")],
    role: Annotated[list[str], typer.Option("--role", help="Repeatable: the API roles it holds.")],
    description: Annotated[str, typer.Option(help="What the credential is for.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API credential; the secret is shown once."""
    from hospes.adminapi.credentials import create_credential

    made = run(lambda s: create_credential(s, admin_username=admin, roles=list(role), description=description,
                                           actor=ACTOR))
    emit({"identifier": made.identifier, "secret": made.secret}, as_json,
         f"Created API credential {made.id}\n  Identifier: {made.identifier}\n  Secret:     {made.secret}\n"
         "  (shown once: it is stored only as a hash)")


@apicreds_app.command("revoke")
def api_credentials_revoke(
    credential_id: Annotated[int, typer.Option("--credential-id", help="The credential's id (api-credentials list).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API credential: it stops working at once."""
    from hospes.adminapi.credentials import revoke_credential

    run(lambda s: revoke_credential(s, credential_id, actor=ACTOR))
    emit({"credentialId": credential_id}, as_json, f"Revoked API credential {credential_id}.")


def _role_json(r: Any) -> dict[str, Any]:
    return {"roleId": r.id, "name": r.name, "description": r.description, "allActions": r.all_actions,
            "actions": list(r.actions)}


@roles_app.command("list")
def api_roles_list(as_json: JsonOpt = False) -> None:
    """Every API role, by name, with its actions."""
    from hospes.adminapi.credentials import list_roles

    rows = run_read(list_roles)
    if as_json:
        emit({"roles": [_role_json(r) for r in rows]}, True, "")
        return
    for r in rows:
        typer.echo(f"{r.id}\t{r.name}\t" + ("all actions" if r.all_actions else ", ".join(r.actions)))


@roles_app.command("update")
def api_roles_update(
    name: Annotated[str, typer.Option(help="The role to change.")],
    new_name: Annotated[str | None, typer.Option("--new-name", help="Rename it.")] = None,
    all_actions: AllActionsOpt = False,
    action: ActionOpt = None,
    description: Annotated[str | None, typer.Option(help="What the role is for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an API role: its actions (--all-actions, or the --action list, replacing the old ones), name or
    description. Credentials holding it get the change at their next call."""
    from hospes.adminapi import credentials

    if all_actions and action:
        fail("use --all-actions or --action, not both")

    def change(s: Any) -> Any:
        role = credentials.get_role(s, credentials.find_role(s, name))
        assert role is not None
        keep = not all_actions and not action
        credentials.update_role(
            s, role.id, name=new_name if new_name is not None else role.name,
            actions=list(role.actions) if keep else list(action or []),
            all_actions=role.all_actions if keep else all_actions,
            description=description if description is not None else role.description, actor=ACTOR)
        return credentials.get_role(s, role.id)

    row = run(change)
    emit(_role_json(row), as_json, f"Updated API role {row.name}.")


@roles_app.command("delete")
def api_roles_delete(
    name: Annotated[str, typer.Option(help="The role to delete.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete an API role: the credentials holding it lose its actions at once."""
    from hospes.adminapi import credentials

    def remove(s: Any) -> int:
        role_id = credentials.find_role(s, name)
        credentials.delete_role(s, role_id, actor=ACTOR)
        return role_id

    role_id = run(remove)
    emit({"roleId": role_id, "deleted": True}, as_json, f"Deleted API role {name}.")


@apicreds_app.command("list")
def api_credentials_list(as_json: JsonOpt = False) -> None:
    """Every API credential (revoked ones too), newest first; never a secret, which is not stored."""
    from hospes.adminapi.credentials import list_credentials

    rows = run_read(list_credentials)

    def when(t: Any) -> str | None:
        return t.isoformat() if t is not None else None

    data: list[dict[str, Any]] = [
        {"credentialId": c.id, "identifier": c.identifier, "admin": c.admin, "roles": list(c.roles),
         "description": c.description, "createdAt": when(c.created_at), "lastUsedAt": when(c.last_used_at),
         "revokedAt": when(c.revoked_at)} for c in rows]
    if as_json:
        emit({"credentials": data}, True, "")
        return
    for d in data:
        typer.echo(f"{d['credentialId']}\t{d['identifier']}\t{d['admin']}\t{', '.join(d['roles'])}"
                   + ("\trevoked" if d["revokedAt"] else ""))
