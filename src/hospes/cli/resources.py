"""``hospes resources add|list|delete``: the operator's own resource servers (oauth/resources.py, whose
operations check the input and record the audit entries)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, run, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

resources_app = typer.Typer(no_args_is_help=True, help="Resource servers of your own (RFC 8707 audiences).")


def _text(row: object) -> str:
    from hospes.store.resources import ResourceRow

    assert isinstance(row, ResourceRow)
    acr = f", requires acr {row.require_acr}" if row.require_acr else ""
    lines = [f"{row.id}\t{row.identifier}\t{row.name} ({row.token_format} tokens{acr})"]
    lines += [f"\t{scope.name}: {scope.description}" for scope in row.scopes]
    return "\n".join(lines)


@resources_app.command("add")
def resources_add(
    identifier: Annotated[str, typer.Option(help="The resource's URI: clients send it as resource= (RFC 8707).")],
    name: Annotated[str, typer.Option(help="Shown on the consent page.")],
    scope: Annotated[list[str], typer.Option(
        "--scope", help="NAME=DESCRIPTION (the consent page's words); repeatable, at least one.")],
    token_format: Annotated[str, typer.Option(
        "--token-format", help="opaque (checked by introspection) or jwt (RFC 9068, verified offline)")] = "opaque",
    require_acr: Annotated[str | None, typer.Option(
        "--require-acr", help="2: its tokens need the second factor (RFC 9470 step-up)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a resource server: tokens asked for with resource=<identifier> are for it alone."""
    from hospes.oauth import resources

    try:
        pairs = [resources.parse_scope_option(value) for value in scope]
    except resources.ResourceError as exc:
        fail(str(exc))
    issuer = settings().issuer
    row = run(lambda s: resources.add(s, issuer=issuer, identifier=identifier, name=name, scopes=pairs,
                                      token_format=token_format, require_acr=require_acr, actor=ACTOR))
    emit(resources.as_dict(row), as_json, f"Registered resource {row.id}\n{_text(row)}")


@resources_app.command("list")
def resources_list(as_json: JsonOpt = False) -> None:
    """The registered resource servers and their scopes."""
    from hospes.oauth import resources

    rows = run(resources.every)
    if as_json:
        typer.echo(json.dumps({"resources": [resources.as_dict(row) for row in rows]}))
        return
    typer.echo("\n".join(_text(row) for row in rows) if rows else "No resources.")


@resources_app.command("delete")
def resources_delete(
    identifier: Annotated[str, typer.Option(help="The resource's URI.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a resource server; the grants given for it are revoked."""
    from hospes.oauth import resources

    def remove(s: Session) -> int:
        found = [row for row in resources.every(s) if row.identifier == identifier]
        if not found:
            raise resources.ResourceError(f"No resource with the identifier {identifier}.")
        resources.delete(s, found[0].id, actor=ACTOR)
        return found[0].id

    resource_id = run(remove)
    emit({"resourceId": resource_id, "deleted": True}, as_json, f"Deleted resource {resource_id}")
