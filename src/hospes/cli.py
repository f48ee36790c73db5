"""The ``hospes`` command. Each command calls the same operations the web layer calls."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from hospes.config import ConfigError, Settings, ensure_secret_key, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Hospes: OAuth 2 / OpenID Connect provider.")
db_app = typer.Typer(no_args_is_help=True, help="Database.")
admins_app = typer.Typer(no_args_is_help=True, help="Admin users.")
clients_app = typer.Typer(no_args_is_help=True, help="Client accounts.")
services_app = typer.Typer(no_args_is_help=True, help="Services of client accounts.")
creds_app = typer.Typer(no_args_is_help=True, help="OAuth credentials (OAuth clients).")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys.")
servers_app = typer.Typer(no_args_is_help=True, help="Servers managed by provisioning modules.")
applinks_app = typer.Typer(no_args_is_help=True, help="Application links (SSO from provisioning modules' servers).")
roles_app = typer.Typer(no_args_is_help=True, help="Admin API roles (sets of permitted API actions).")
apicreds_app = typer.Typer(no_args_is_help=True, help="Admin API credentials.")
app.add_typer(db_app, name="db")
app.add_typer(admins_app, name="admins")
app.add_typer(clients_app, name="clients")
app.add_typer(services_app, name="services")
app.add_typer(creds_app, name="oauth-credentials")
app.add_typer(keys_app, name="keys")
app.add_typer(servers_app, name="servers")
app.add_typer(applinks_app, name="applinks")
app.add_typer(roles_app, name="api-roles")
app.add_typer(apicreds_app, name="api-credentials")

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as a JSON object.")]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


@contextmanager
def database() -> Iterator[Any]:
    from hospes.store.db import Database
    from hospes.store.migrate import upgrade

    s = settings()
    try:
        upgrade(s.sqlalchemy_url)
    except Exception as exc:
        fail(f"cannot open the database: {str(exc).splitlines()[0]}")
    db = Database(s.sqlalchemy_url)
    try:
        yield db
    finally:
        db.dispose()


def run(fn: Callable[[Any], T]) -> T:
    """Run one unit of work; turn a validation error into a one-line message and exit 1."""
    from hospes.accounts.service import AccountError
    from hospes.adminapi.credentials import ApiCredentialError
    from hospes.oauth.credentials import CredentialError
    from hospes.sso.applinks import AppLinkError

    with database() as db:
        try:
            with db.transaction() as s:
                return fn(s)
        except (AccountError, CredentialError, ApiCredentialError, AppLinkError) as exc:
            fail(str(exc))


def audited(s: Any, action: str, target: str = "", **details: Any) -> None:
    """Every change made through the CLI is in the audit log, as actor "cli"."""
    from hospes import audit

    audit.record(s, actor="cli", action=action, target=target, details=details)


def read_password(password: str | None, password_stdin: bool) -> str:
    if password is not None and password_stdin:
        fail("use --password or --password-stdin, not both")
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("no password on standard input")
        return value
    if password is None:
        fail("a password is required: --password P or --password-stdin")
    return password


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)


# -- serve and db ---------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Apply migrations, create keys on first start, and serve HTTP."""
    from hospes.oauth.keys import KeyRing
    from hospes.store.db import Database
    from hospes.store.migrate import upgrade

    s = settings()
    ensure_secret_key(s)
    try:
        upgrade(s.sqlalchemy_url)
    except Exception as exc:
        fail(f"cannot open the database: {str(exc).splitlines()[0]}")
    db = Database(s.sqlalchemy_url)
    created = KeyRing(db, 0).ensure()
    from sqlalchemy import func, select

    from hospes.store.models import Admin
    with db.transaction() as session:
        admins = session.scalar(select(func.count()).select_from(Admin))
    db.dispose()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    typer.echo(f"Hospes issuer: {s.issuer}")
    typer.echo(f"Discovery:     {s.issuer}/.well-known/openid-configuration")
    if created:
        typer.echo(f"Created signing keys: {', '.join(created)}")
    if not admins:
        typer.echo("Next: create a first admin and a first client account, for example:\n"
                   "  .venv/bin/hospes admins add --username admin --email admin@example.com --password-stdin\n"
                   "  .venv/bin/hospes clients add --email jane@example.com --first-name Jane --last-name Doe "
                   "--password-stdin")
    from hospes.workers import CannotServe
    from hospes.workers import serve as serve_workers

    try:
        serve_workers(host, port, workers, {"access_log": False, "log_level": "info", "proxy_headers": False,
                                            "server_header": False})
    except CannotServe as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with database():
        pass
    typer.echo("Database is up to date.")


# -- accounts --------------------------------------------------------------------------------------


@admins_app.command("add")
def admins_add(
    username: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    password: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    permission: Annotated[list[str] | None, typer.Option(help="Repeatable; none: a full administrator.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an admin user."""
    from hospes.accounts.service import add_admin

    pw = read_password(password, password_stdin)
    def make(s: Any) -> int:
        admin_id = add_admin(s, username=username, email=email, password=pw, permissions=list(permission or []))
        audited(s, "admin.created", f"admin:{admin_id}", username=username, permissions=list(permission or []))
        return admin_id

    admin_id = run(make)
    emit({"adminId": admin_id, "username": username}, as_json, f"Created admin {username} (id {admin_id}).")


@clients_app.command("add")
def clients_add(
    email: Annotated[str, typer.Option()],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    password: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    company: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a client account and its owner user."""
    from hospes.accounts.service import add_client

    pw = read_password(password, password_stdin)
    def make(s: Any) -> Any:
        made = add_client(s, email=email, first_name=first_name, last_name=last_name, password=pw, company=company)
        audited(s, "client.created", f"client:{made.client_id}", email=email)
        return made

    made = run(make)
    emit({"clientId": made.client_id, "userId": made.user_id}, as_json,
         f"Created client account {made.client_id} with owner user {made.user_id} ({email}).")


@services_app.command("add")
def services_add(
    client_id: Annotated[int, typer.Option("--client-id")],
    product: Annotated[str, typer.Option()],
    domain: Annotated[str, typer.Option()] = "",
    username: Annotated[str, typer.Option()] = "",
    server_id: Annotated[int | None, typer.Option("--server-id", help="The server it runs on.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a service to a client account."""
    from hospes.accounts.service import add_service

    def make(s: Any) -> int:
        service_id = add_service(s, client_id=client_id, product=product, domain=domain, username=username,
                                 server_id=server_id)
        audited(s, "service.created", f"service:{service_id}", client_id=client_id, product=product)
        return service_id

    service_id = run(make)
    emit({"serviceId": service_id}, as_json, f"Created service {service_id}.")


@servers_app.command("add")
def servers_add(
    name: Annotated[str, typer.Option()],
    module: Annotated[str, typer.Option(help="Provisioning module, e.g. webhook.")],
    hostname: Annotated[str, typer.Option()] = "",
    config: Annotated[list[str] | None,
                      typer.Option("--config", help="KEY=VALUE, repeatable (webhook: url, secret).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a server that a provisioning module manages."""
    from hospes.accounts.service import add_server

    settings_map: dict[str, str] = {}
    for item in config or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--config takes KEY=VALUE, not {item!r}")
        settings_map[key.strip()] = value

    def make(s: Any) -> int:
        server_id = add_server(s, name=name, module=module, hostname=hostname, config=settings_map)
        audited(s, "server.created", f"server:{server_id}", name=name, module=module)
        return server_id

    server_id = run(make)
    emit({"serverId": server_id}, as_json, f"Created server {server_id}.")


@applinks_app.command("enable")
def applinks_enable(
    module: Annotated[str, typer.Option(help="Provisioning module, e.g. webhook.")],
    as_json: JsonOpt = False,
) -> None:
    """Enable an application (or sync it again): SSO credentials and links go to each of its servers."""
    from hospes.sso import applinks

    s_ = settings()

    def go(s: Any) -> Any:
        app_ = applinks.get_or_create(s, module)
        return applinks.sync(s, s_, app_, actor="cli")

    result = run(go)
    emit({"status": result.status, "errors": result.errors}, as_json,
         f"{module}: {result.status}" + "".join(f"\n  {e}" for e in result.errors))
    if result.errors:
        raise typer.Exit(1)


@applinks_app.command("disable")
def applinks_disable(
    module: Annotated[str, typer.Option()],
    as_json: JsonOpt = False,
) -> None:
    """Disable an application: its links are removed from the servers and its credentials deleted."""
    from hospes.sso import applinks

    s_ = settings()

    def go(s: Any) -> Any:
        return applinks.disable(s, s_, applinks.get_or_create(s, module), actor="cli")

    result = run(go)
    emit({"status": result.status, "errors": result.errors}, as_json, f"{module}: {result.status}")


# -- OAuth credentials -------------------------------------------------------------------------------


@creds_app.command("create")
def creds_create(
    grant_type: Annotated[str, typer.Option("--grant-type", help="authorization_code or single_sign_on")],
    scope: Annotated[str, typer.Option(help='Space separated, e.g. "openid profile email"')],
    name: Annotated[str, typer.Option()] = "",
    service_id: Annotated[int | None, typer.Option("--service-id")] = None,
    description: Annotated[str, typer.Option()] = "",
    logo_uri: Annotated[str, typer.Option("--logo-uri")] = "",
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="Repeatable.")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret; PKCE required.")] = False,
    refresh_token_policy: Annotated[str, typer.Option("--refresh-tokens",
                                                      help="offline_access, always or never")] = "offline_access",
    id_token_alg: Annotated[str, typer.Option("--id-token-alg", help="RS256 or ES256")] = "RS256",
    as_json: JsonOpt = False,
) -> None:
    """Create an OAuth credential; the secret is shown once."""
    from hospes.oauth import credentials

    company = settings().company_name
    def make(s: Any) -> Any:
        made = credentials.create(
            s, grant_type=grant_type, scope=scope, name=name, service_id=service_id, description=description,
            logo_uri=logo_uri, redirect_uris=list(redirect_uri or []), public=public,
            post_logout_redirect_uris=list(post_logout_redirect_uri or []),
            refresh_token_policy=refresh_token_policy, id_token_signed_response_alg=id_token_alg, company=company)
        audited(s, "oauth_credential.created", f"oauth_credential:{made.credential_id}",
                client_identifier=made.client_identifier, grant_type=grant_type, scope=scope)
        return made

    made = run(make)
    data = {"credentialId": made.credential_id, "clientIdentifier": made.client_identifier,
            "clientSecret": made.client_secret}
    text = (f"Created credential {made.credential_id}\n  Client ID:     {made.client_identifier}\n"
            + (f"  Client Secret: {made.client_secret}\n  (shown once: it is stored only as a hash)"
               if made.client_secret else "  Public client: no secret; PKCE is required."))
    emit(data, as_json, text)


@creds_app.command("list")
def creds_list(
    grant_type: Annotated[str | None, typer.Option("--grant-type")] = None,
    sort_field: Annotated[str | None, typer.Option("--sort-field")] = None,
    sort_order: Annotated[str | None, typer.Option("--sort-order")] = None,
    limit: Annotated[int | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """List OAuth credentials (ListOAuthCredentials' fields; secrets are never listed)."""
    from hospes.oauth import credentials

    rows = run(lambda s: [credentials.to_whmcs(c) for c in credentials.list_credentials(
        s, grant_type=grant_type, sort_field=sort_field, sort_order=sort_order, limit=limit)])
    if as_json:
        typer.echo(json.dumps({"clients": rows}))
        return
    for r in rows:
        typer.echo(f"{r['credentialId']}\t{r['clientIdentifier']}\t{r['grantTypes']}\t{r['name']}\t{r['scope']}")


@creds_app.command("update")
def creds_update(
    credential_id: Annotated[int | None, typer.Option("--credential-id")] = None,
    client_identifier: Annotated[str | None, typer.Option("--client-identifier")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    grant_type: Annotated[str | None, typer.Option("--grant-type")] = None,
    scope: Annotated[str | None, typer.Option()] = None,
    service_id: Annotated[int | None, typer.Option("--service-id")] = None,
    logo_uri: Annotated[str | None, typer.Option("--logo-uri")] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")] = None,
    refresh_token_policy: Annotated[str | None, typer.Option("--refresh-tokens")] = None,
    id_token_alg: Annotated[str | None, typer.Option("--id-token-alg")] = None,
    reset_secret: Annotated[bool, typer.Option("--reset-secret")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an OAuth credential; --reset-secret makes the old secret stop working at once."""
    from hospes.oauth import credentials

    def change(s: Any) -> tuple[int, str | None]:
        cred = credentials.find(s, credential_id=credential_id, identifier=client_identifier)
        fields: dict[str, Any] = {}
        for key, value in (("name", name), ("description", description), ("grant_type", grant_type),
                           ("scope", scope), ("service_id", service_id), ("logo_uri", logo_uri),
                           ("refresh_token_policy", refresh_token_policy),
                           ("id_token_signed_response_alg", id_token_alg)):
            if value is not None:
                fields[key] = value
        if redirect_uri is not None:
            fields["redirect_uris"] = list(redirect_uri)
        if post_logout_redirect_uri is not None:
            fields["post_logout_redirect_uris"] = list(post_logout_redirect_uri)
        secret = credentials.update_credential(s, cred, reset_secret=reset_secret, **fields)
        audited(s, "oauth_credential.updated", f"oauth_credential:{cred.id}", fields=sorted(fields))
        if secret:
            audited(s, "oauth_credential.secret_reset", f"oauth_credential:{cred.id}")
        return cred.id, secret

    cid, secret = run(change)
    data: dict[str, Any] = {"credentialId": cid}
    if secret:
        data["newClientSecret"] = secret
    emit(data, as_json, f"Updated credential {cid}." + (f"\n  New Client Secret: {secret}" if secret else ""))


@creds_app.command("delete")
def creds_delete(
    credential_id: Annotated[int, typer.Option("--credential-id")],
    as_json: JsonOpt = False,
) -> None:
    """Delete an OAuth credential and revoke every token and consent issued to it."""
    from hospes.oauth import credentials

    def remove(s: Any) -> int:
        cred = credentials.find(s, credential_id=credential_id)
        identifier = cred.identifier
        credentials.delete_credential(s, cred)
        audited(s, "oauth_credential.deleted", f"oauth_credential:{credential_id}", client_identifier=identifier)
        return credential_id

    run(remove)
    emit({"credentialId": credential_id}, as_json, f"Deleted credential {credential_id}.")


# -- keys --------------------------------------------------------------------------------------------


def _keyring(db: Any) -> Any:
    from hospes.oauth.keys import KeyRing

    s = settings()
    return KeyRing(db, retire_after=max(s.id_token_ttl, s.session_ttl))


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Signing keys: active ones sign; retired ones stay published until their tokens expire."""
    with database() as db:
        keys = _keyring(db).list()
    if as_json:
        typer.echo(json.dumps({"keys": [k.__dict__ for k in keys]}))
        return
    for k in keys:
        state = "active" if k.retired_at is None else (f"retired, published until {k.unpublish_at}"
                                                        if k.published else "unpublished")
        typer.echo(f"{k.kid}\t{k.alg}\tcreated {k.created_at}\t{state}")


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Add new signing keys that sign from now on; the old ones stay published until they expire."""
    with database() as db:
        kids = _keyring(db).rotate()
    emit({"created": kids}, as_json, f"New signing keys: {', '.join(kids)}")


# -- admin API roles and credentials ----------------------------------------------------------------


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

    def make(s: Any) -> int:
        role_id = create_role(s, name=name, actions=list(action or []), all_actions=all_actions,
                             description=description)
        audited(s, "api_role.created", f"api_role:{role_id}", name=name, all_actions=all_actions,
                actions=list(action or []))
        return role_id

    role_id = run(make)
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

    def make(s: Any) -> Any:
        made = create_credential(s, admin_username=admin, roles=list(role), description=description)
        audited(s, "api_credential.created", f"api_credential:{made.id}", admin=admin, roles=list(role),
                identifier=made.identifier)
        return made

    made = run(make)
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

    def revoke(s: Any) -> int:
        cred = revoke_credential(s, credential_id)
        audited(s, "api_credential.revoked", f"api_credential:{cred.id}", identifier=cred.identifier)
        return cred.id

    run(revoke)
    emit({"credentialId": credential_id}, as_json, f"Revoked API credential {credential_id}.")


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's exception base: vendored by recent Typer (TyperException), click's own before that."""
    import click

    kinds: list[type[Exception]] = [click.ClickException]
    vendored = getattr(typer, "TyperException", None)
    if isinstance(vendored, type) and issubclass(vendored, Exception):
        kinds.append(vendored)
    return tuple(kinds)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except _usage_errors() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            if exc.format_message().strip():  # type: ignore[attr-defined]
                exc.show()  # type: ignore[attr-defined]  # (Rich has printed the help already)
        else:
            # A usage error (missing option, bad value, unknown command) is one line too, not a box.
            typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
