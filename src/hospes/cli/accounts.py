"""``hospes admins add``, ``hospes clients add``, ``hospes services add``, ``hospes domains add``,
``hospes invoices add``, ``hospes users invite``: the operations of ``hospes.accounts.service``, which check
the input and record the audit entry."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, read_password, run
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
    admin_id = run(lambda s: add_admin(s, username=username, email=email, password=pw,
                                       permissions=list(permission or []), actor=ACTOR))
    emit({"adminId": admin_id, "username": username}, as_json, f"Created admin {username} (id {admin_id}).")


@clients_app.command("add")
def clients_add(
    email: Annotated[str, typer.Option()],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    password: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    company: Annotated[str, typer.Option()] = "",
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
    client_id: Annotated[int, typer.Option("--client-id")],
    product: Annotated[str, typer.Option()],
    domain: Annotated[str, typer.Option()] = "",
    username: Annotated[str, typer.Option()] = "",
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
    client_id: Annotated[int, typer.Option("--client-id")],
    domain: Annotated[str, typer.Option()],
    status: Annotated[str, typer.Option()] = "Active",
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
    client_id: Annotated[int, typer.Option("--client-id")],
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
    client_id: Annotated[int, typer.Option("--client-id")],
    email: Annotated[str, typer.Option()],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    password: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
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
