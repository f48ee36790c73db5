"""``hospes admins add|list|disable|enable|permissions|reset-password``, ``hospes clients add|list``,
``hospes services add``, ``hospes domains add``, ``hospes invoices add``, ``hospes users invite``: the operations
of ``hospes.accounts.service`` and ``hospes.accounts.staff``, which check the input and record the audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, read_password, run, run_read
from hospes.clock import day

admins_app = typer.Typer(no_args_is_help=True, help="Admin users.")
clients_app = typer.Typer(no_args_is_help=True, help="Client accounts.")
services_app = typer.Typer(no_args_is_help=True, help="Services of client accounts.")
domains_app = typer.Typer(no_args_is_help=True, help="Domains of client accounts.")
invoices_app = typer.Typer(no_args_is_help=True, help="Invoices of client accounts.")
users_app = typer.Typer(no_args_is_help=True, help="People who reach client accounts.")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    if (parsed := day(value)) is None:
        fail(f"{option} must be a date written YYYY-MM-DD, not {value!r}.")
    return parsed


UsernameOpt = Annotated[str, typer.Option(help="The admin's username.")]
PasswordOpt = Annotated[str | None, typer.Option(help="The password (visible in the process list: prefer "
                                                      "--password-stdin).")]
PasswordStdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


@admins_app.command("add")
def admins_add(
    username: Annotated[str, typer.Option(help="Letters, digits and . _ @ - only.")],
    email: Annotated[str, typer.Option(help="The admin's email address.")],
    password: PasswordOpt = None,
    password_stdin: PasswordStdinOpt = False,
    permission: Annotated[list[str] | None, typer.Option(help="Repeatable; none: a full administrator.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an admin user."""
    from hospes.accounts.service import add_admin

    pw = read_password(password, password_stdin)
    admin_id = run(lambda s: add_admin(s, username=username, email=email, password=pw,
                                       permissions=list(permission or []), actor=ACTOR))
    emit({"adminId": admin_id, "username": username}, as_json, f"Created admin {username} (id {admin_id}).")


def _admin_json(row: Any) -> dict[str, Any]:
    return {"adminId": row.id, "username": row.username, "email": row.email, "permissions": list(row.permissions),
            "fullAdministrator": row.full, "disabled": row.disabled}


@admins_app.command("list")
def admins_list(as_json: JsonOpt = False) -> None:
    """Every admin, by username: permissions (none: a full administrator) and whether disabled."""
    from hospes.accounts import staff

    rows = run_read(staff.every)
    if as_json:
        emit({"admins": [_admin_json(r) for r in rows]}, True, "")
        return
    for r in rows:
        rights = "full administrator" if r.full else ", ".join(r.permissions)
        typer.echo(f"{r.id}\t{r.username}\t{r.email}\t{rights}" + ("\tdisabled" if r.disabled else ""))


def _admin_change(username: str, change: Callable[[Any, int], Any]) -> Any:
    from hospes.accounts import staff

    def apply(s: Any) -> Any:
        admin = staff.find(s, username)
        change(s, admin.id)
        return staff.get(s, admin.id)

    return run(apply)


@admins_app.command("disable")
def admins_disable(username: UsernameOpt, as_json: JsonOpt = False) -> None:
    """Disable an admin: their sessions end and their logins and API credentials stop working."""
    from hospes.accounts import staff

    row = _admin_change(username, lambda s, i: staff.set_disabled(s, i, True, actor=ACTOR))
    emit(_admin_json(row), as_json, f"Disabled admin {row.username}.")


@admins_app.command("enable")
def admins_enable(username: UsernameOpt, as_json: JsonOpt = False) -> None:
    """Enable a disabled admin again."""
    from hospes.accounts import staff

    row = _admin_change(username, lambda s, i: staff.set_disabled(s, i, False, actor=ACTOR))
    emit(_admin_json(row), as_json, f"Enabled admin {row.username}.")


@admins_app.command("permissions")
def admins_permissions(
    username: UsernameOpt,
    permission: Annotated[list[str] | None, typer.Option(help="Repeatable: the permissions the admin keeps.")] = None,
    full: Annotated[bool, typer.Option("--full", help="A full administrator (every permission).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set an admin's permissions (--full, or the --permission list); there is always an enabled full
    administrator."""
    from hospes.accounts import staff

    if full == bool(permission):
        fail("use --full or --permission NAME ..., one of them")
    row = _admin_change(username, lambda s, i: staff.set_permissions(s, i, list(permission or []), actor=ACTOR))
    rights = "a full administrator" if row.full else ", ".join(row.permissions)
    emit(_admin_json(row), as_json, f"Admin {row.username}: {rights}.")


@admins_app.command("reset-password")
def admins_reset_password(
    username: UsernameOpt,
    password: PasswordOpt = None,
    password_stdin: PasswordStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Give an admin a new password (a temporary one, printed once, when none is given); their sessions end."""
    from hospes.accounts import staff

    given = read_password(password, password_stdin) if password is not None or password_stdin else None
    made: list[str] = []
    row = _admin_change(username, lambda s, i: made.append(staff.reset_password(s, i, password=given, actor=ACTOR)))
    data: dict[str, Any] = {"adminId": row.id, "username": row.username}
    if given is None:
        data["temporaryPassword"] = made[0]
    emit(data, as_json, f"New password for admin {row.username}"
         + (f": {made[0]}\n  (shown once: it is stored only as a hash)" if given is None else "."))


@clients_app.command("list")
def clients_list(
    search: Annotated[str, typer.Option(help="Part of the owner's name or email, the company, or the id.")] = "",
    status: Annotated[str, typer.Option(help="Active, Inactive or Closed; empty: any.")] = "",
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1, max=10_000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Client accounts, newest first, as the admin area's search finds them."""
    from hospes.store.accounts import search_clients

    found = run_read(lambda s: search_clients(s, query=search, status=status, limit=limit))
    rows = [{"clientId": c.id, "company": c.company_name, "status": c.status, "ownerUserId": c.owner_user_id,
             "email": o.email if o else None, "name": o.full_name if o else None} for c, o in found.rows]
    if as_json:
        emit({"total": found.total, "clients": rows}, True, "")
        return
    for r in rows:
        typer.echo(f"{r['clientId']}\t{r['status']}\t{r['email'] or ''}\t{r['name'] or ''}\t{r['company']}")
    typer.echo(f"{found.total} found.")


@clients_app.command("add")
def clients_add(
    email: Annotated[str, typer.Option(help="The owner's email address: their login.")],
    first_name: Annotated[str, typer.Option("--first-name", help="The owner's first name.")],
    last_name: Annotated[str, typer.Option("--last-name", help="The owner's last name.")],
    password: PasswordOpt = None,
    password_stdin: PasswordStdinOpt = False,
    company: Annotated[str, typer.Option(help="The company name, if any.")] = "",
    email_verified: Annotated[bool, typer.Option(
        "--email-verified", help="The address is known to be the person's: no verification mail needed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a client account and its owner user."""
    from hospes.accounts.service import add_client

    pw = read_password(password, password_stdin)
    made = run(lambda s: add_client(s, email=email, first_name=first_name, last_name=last_name, password=pw,
                                     company=company, email_verified=email_verified, actor=ACTOR))
    emit({"clientId": made.client_id, "userId": made.user_id}, as_json,
         f"Created client account {made.client_id} with owner user {made.user_id} ({email}).")


@services_app.command("add")
def services_add(
    client_id: Annotated[int, typer.Option("--client-id", help="The client account.")],
    product: Annotated[str, typer.Option(help="The product's name.")],
    domain: Annotated[str, typer.Option(help="The service's domain, if any.")] = "",
    username: Annotated[str, typer.Option(help="The service's username on its server, if any.")] = "",
    server_id: Annotated[int | None, typer.Option("--server-id", help="The server it runs on.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a service to a client account."""
    from hospes.accounts.service import add_service

    service_id = run(lambda s: add_service(s, client_id=client_id, product=product, domain=domain,
                                           username=username, server_id=server_id, actor=ACTOR))
    emit({"serviceId": service_id}, as_json, f"Created service {service_id}.")


@domains_app.command("add")
def domains_add(
    client_id: Annotated[int, typer.Option("--client-id", help="The client account.")],
    domain: Annotated[str, typer.Option(help="The domain name.")],
    status: Annotated[str, typer.Option(help="Active, Pending, Expired, ...")] = "Active",
    expires: Annotated[str | None, typer.Option(help="Expiry date, YYYY-MM-DD.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a domain to a client account."""
    from hospes.accounts.service import add_domain

    expires_on = _day(expires, "--expires")
    domain_id = run(lambda s: add_domain(s, client_id=client_id, domain=domain, status=status,
                                         expires_on=expires_on, actor=ACTOR))
    emit({"domainId": domain_id}, as_json, f"Created domain {domain_id}.")


@invoices_app.command("add")
def invoices_add(
    client_id: Annotated[int, typer.Option("--client-id", help="The client account.")],
    total: Annotated[str, typer.Option(help="The amount, such as 12.50.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    status: Annotated[str, typer.Option(help="Unpaid, Paid, Cancelled, ...")] = "Unpaid",
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an invoice to a client account."""
    from hospes.accounts.service import add_invoice

    due_on = _day(due, "--due")
    invoice_id = run(lambda s: add_invoice(s, client_id=client_id, total=total, currency=currency, status=status,
                                           due_on=due_on, actor=ACTOR))
    emit({"invoiceId": invoice_id}, as_json, f"Created invoice {invoice_id}.")


@users_app.command("invite")
def users_invite(
    client_id: Annotated[int, typer.Option("--client-id", help="The client account they will reach.")],
    email: Annotated[str, typer.Option(help="The person's email address: their login.")],
    first_name: Annotated[str, typer.Option("--first-name", help="The person's first name.")],
    last_name: Annotated[str, typer.Option("--last-name", help="The person's last name.")],
    password: PasswordOpt = None,
    password_stdin: PasswordStdinOpt = False,
    permission: Annotated[list[str] | None, typer.Option(
        help="Repeatable: WHMCS's user permissions (products, domains, invoices, tickets, emails, profile, "
             "productsso, ...) and sso.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Let a person reach a client account as an invited user (an existing user is linked, unchanged)."""
    from hospes.accounts.service import invite_user

    pw = read_password(password, password_stdin)
    user_id = run(lambda s: invite_user(s, client_id=client_id, email=email, first_name=first_name,
                                        last_name=last_name, password=pw, permissions=list(permission or []),
                                        actor=ACTOR))
    emit({"userId": user_id}, as_json, f"User {user_id} ({email}) now reaches client account {client_id}.")
