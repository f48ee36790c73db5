"""``hospes api-roles create`` and ``hospes api-credentials create|revoke``: who may call the admin API and
what they may do, through the operations of ``hospes.adminapi.credentials`` (the admin pages' too)."""

from __future__ import annotations

from typing import Annotated

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, run

roles_app = typer.Typer(no_args_is_help=True, help="Admin API roles (sets of permitted API actions).")
apicreds_app = typer.Typer(no_args_is_help=True, help="Admin API credentials.")


@roles_app.command("create")
def api_roles_create(
    name: Annotated[str, typer.Option()],
    all_actions: Annotated[bool, typer.Option("--all-actions", help="Every API action.")] = False,
    action: Annotated[list[str] | None,
                      typer.Option("--action", help="Repeatable, e.g. CreateOAuthCredential.")] = None,
    description: Annotated[str, typer.Option()] = "",
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
    role: Annotated[list[str], typer.Option("--role", help="Repeatable.")],
    description: Annotated[str, typer.Option()] = "",
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
    credential_id: Annotated[int, typer.Option("--credential-id")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API credential: it stops working at once."""
    from hospes.adminapi.credentials import revoke_credential

    run(lambda s: revoke_credential(s, credential_id, actor=ACTOR))
    emit({"credentialId": credential_id}, as_json, f"Revoked API credential {credential_id}.")
