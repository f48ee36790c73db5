"""The ``hospes`` command (typer). Each command calls the same operations the web layer and the admin API
call, and those operations record the audit entries; one module per command group:

  server.py             serve, db upgrade
  accounts.py           admins add|list|disable|enable|permissions|reset-password, clients add|list,
                        services add, domains add, invoices add, users invite
  oauth_credentials.py  oauth-credentials create|list|update|delete
  keys.py               keys list|rotate
  applinks.py           servers add, applinks enable|disable
  admin_api.py          api-roles create|list|update|delete, api-credentials create|list|revoke
  maintenance.py        purge, backup, restore
  resources.py          resources add|list|delete
  registration.py       registration-tokens create
  common.py             settings, the database, one unit of work, one-line errors, --json
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hospes import __version__
from hospes.cli import (
    accounts,
    admin_api,
    applinks,
    common,
    keys,
    maintenance,
    oauth_credentials,
    registration,
    resources,
    server,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Hospes: OAuth 2 / OpenID Connect provider.")
app.command()(server.serve)
app.add_typer(server.db_app, name="db")
app.command()(maintenance.purge)
app.command()(maintenance.backup)
app.command()(maintenance.restore)
app.add_typer(accounts.admins_app, name="admins")
app.add_typer(accounts.clients_app, name="clients")
app.add_typer(accounts.services_app, name="services")
app.add_typer(accounts.domains_app, name="domains")
app.add_typer(accounts.invoices_app, name="invoices")
app.add_typer(accounts.users_app, name="users")
app.add_typer(oauth_credentials.creds_app, name="oauth-credentials")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(resources.resources_app, name="resources")
app.add_typer(registration.registration_tokens_app, name="registration-tokens")
app.add_typer(applinks.servers_app, name="servers")
app.add_typer(applinks.applinks_app, name="applinks")
app.add_typer(admin_api.roles_app, name="api-roles")
app.add_typer(admin_api.apicreds_app, name="api-credentials")


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's exception base: vendored by recent Typer (TyperException), click's own before that."""
    import click

    kinds: list[type[Exception]] = [click.ClickException]
    vendored = getattr(typer, "TyperException", None)
    if isinstance(vendored, type) and issubclass(vendored, Exception):
        kinds.append(vendored)
    return tuple(kinds)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hospes {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Hospes: OAuth 2 / OpenID Connect provider."""


def main() -> None:
    args = sys.argv[1:]
    # Errors as JSON when --json is on the command line (before a "--" that ends the options).
    common.json_errors("--json" in args[:args.index("--")] if "--" in args else "--json" in args)
    try:
        code = app(standalone_mode=False)
    except _usage_errors() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            if exc.format_message().strip():  # type: ignore[attr-defined]
                exc.show()  # type: ignore[attr-defined]  # (Rich has printed the help already)
        else:
            # A usage error (missing option, bad value, unknown command) is one line too, not a box.
            common.report(" ".join(exc.format_message().split()), usage=True)  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        common.report("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
