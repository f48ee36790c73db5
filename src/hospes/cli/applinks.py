"""``hospes servers add`` and ``hospes applinks enable|disable``: servers that provisioning modules manage,
and the application links (SSO from those servers) that ``hospes.sso.applinks`` pushes to them."""

from __future__ import annotations

from typing import Annotated

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, run, settings

servers_app = typer.Typer(no_args_is_help=True, help="Servers managed by provisioning modules.")
applinks_app = typer.Typer(no_args_is_help=True, help="Application links (SSO from provisioning modules' servers).")


@servers_app.command("add")
def servers_add(
    name: Annotated[str, typer.Option(help="The server's name.")],
    module: Annotated[str, typer.Option(help="Provisioning module, e.g. webhook.")],
    hostname: Annotated[str, typer.Option(help="The server's host name.")] = "",
    config: Annotated[list[str] | None,
                      typer.Option("--config", help="KEY=VALUE, repeatable (webhook: url, secret).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a server that a provisioning module manages."""
    from hospes.accounts.service import add_server
    from hospes.sso.modules import available, config_problems

    settings_map: dict[str, str] = {}
    for item in config or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--config takes KEY=VALUE, not {item!r}")
        settings_map[key.strip()] = value

    found = available().get(module)
    if found is not None and (problems := config_problems(found, settings_map)):
        fail(f"Server {name}: {'; '.join(problems)}.")
    server_id = run(lambda s: add_server(s, name=name, module=module, hostname=hostname, config=settings_map,
                                         actor=ACTOR))
    emit({"serverId": server_id}, as_json, f"Created server {server_id}.")


@applinks_app.command("enable")
def applinks_enable(
    module: Annotated[str, typer.Option(help="Provisioning module, e.g. webhook.")],
    as_json: JsonOpt = False,
) -> None:
    """Enable an application (or sync it again): SSO credentials and links go to each of its servers."""
    from hospes.sso import applinks

    config = settings()
    result = run(lambda s: applinks.sync(s, config, applinks.get_or_create(s, module), actor=ACTOR))
    emit({"status": result.status, "errors": result.errors}, as_json,
         f"{module}: {result.status}" + "".join(f"\n  {e}" for e in result.errors))
    if result.errors:
        raise typer.Exit(1)


@applinks_app.command("disable")
def applinks_disable(
    module: Annotated[str, typer.Option(help="Provisioning module, e.g. webhook.")],
    as_json: JsonOpt = False,
) -> None:
    """Disable an application: its links are removed from the servers and its credentials deleted."""
    from hospes.sso import applinks

    config = settings()
    result = run(lambda s: applinks.disable(s, config, applinks.get_or_create(s, module), actor=ACTOR))
    emit({"status": result.status, "errors": result.errors}, as_json, f"{module}: {result.status}")
