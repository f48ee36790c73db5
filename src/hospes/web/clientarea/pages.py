"""``/clientarea.php`` and its ``?action=`` sections (WHMCS's paths): home, details, services, domains,
invoices and email history. Read-only views of the account shown (see gate.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.responses import Response

from hospes.sso import destinations
from hospes.store.models import ClientAccount, Domain, EmailMessage, Invoice, Service, Ticket, User
from hospes.web.clientarea.gate import ACCOUNT_SECTIONS, OWNER_SECTIONS, SECTIONS, Ctx, date, page, parse_id

# Destinations Hospes does not render, linked from the home page when an external client area is set
# (HOSPES_EXTERNAL_CLIENTAREA_URL); labels after WHMCS's client-area menus
# (https://github.com/WHMCS/templates-twenty-one).
EXTERNAL_LINKS = (
    ("clientarea:shopping_cart", "Order new services"),
    ("clientarea:shopping_cart_addons", "Product addons"),
    ("clientarea:shopping_cart_domain_register", "Register a new domain"),
    ("clientarea:shopping_cart_domain_transfer", "Transfer a domain to us"),
    ("clientarea:billing_info", "Manage billing information"),
    ("clientarea:announcements", "Announcements"),
    ("clientarea:knowledgebase", "Knowledgebase"),
    ("clientarea:downloads", "Downloads"),
    ("clientarea:network_status", "Network status"),
)


def _count(ctx: Ctx, s: Any, model: Any, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(model.client_id == ctx.account.id, *where))
               or 0)


def _home(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        counts = [
            ("Services", _count(ctx, s, Service), ctx.href(SECTIONS[2].path)),
            ("Domains", _count(ctx, s, Domain), ctx.href(SECTIONS[3].path)),
            ("Unpaid invoices", _count(ctx, s, Invoice, Invoice.status == "Unpaid"), ctx.href(SECTIONS[4].path)),
            ("Open tickets", _count(ctx, s, Ticket, Ticket.status != "Closed"), ctx.href(SECTIONS[5].path)),
        ]
    external = []
    if ctx.settings.external_clientarea_url:
        external = [(label, destinations.url_for(ctx.settings, scope)) for scope, label in EXTERNAL_LINKS]
    account_items = ACCOUNT_SECTIONS + (OWNER_SECTIONS if ctx.account.owner else ())
    return ctx.render("home.html", "home", counts=counts, sections=ctx.nav(SECTIONS[1:]),
                      account_sections=ctx.nav(account_items), external=external,
                      external_host=ctx.settings.external_clientarea_url or "")


def _details(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        user = s.get(User, ctx.current.user_id)
        client = s.get(ClientAccount, ctx.account.id)
        owner = s.get(User, client.owner_user_id) if client and client.owner_user_id else None
        if user is None or client is None:
            return ctx.not_found("Your account")
        return ctx.render("details.html", "details", user=user, client=client, owner=owner)


def _services(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        rows = s.scalars(select(Service).where(Service.client_id == ctx.account.id).order_by(Service.id)).all()
        services = [{"id": sv.id, "product": sv.product_name, "domain": sv.domain, "status": sv.status,
                     "since": date(sv.created_at), "href": ctx.href("/clientarea.php?action=productdetails", id=sv.id)}
                    for sv in rows]
    return ctx.render("services.html", "services", services=services)


def _owned(ctx: Ctx, model: Any) -> Any:
    """The row named by ``?id=`` when it belongs to an account the user reaches, else None (a 404:
    another customer's id looks exactly like one that does not exist). The page then shows that account."""
    row_id = parse_id(ctx.arg("id"))
    with ctx.db.read() as s:
        row = s.get(model, row_id) if row_id else None
        if row is None:
            return None
        account = ctx.reachable(row.client_id)
        if account is None:
            return None
        ctx.account = account
        return row


def _productdetails(ctx: Ctx) -> Response:
    service = _owned(ctx, Service)
    if service is None:
        return ctx.not_found("That service")
    return ctx.render("productdetails.html", "services", service=service, since=date(service.created_at))


def _domains(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        rows = s.scalars(select(Domain).where(Domain.client_id == ctx.account.id).order_by(Domain.domain)).all()
        domains = [{"id": d.id, "domain": d.domain, "status": d.status, "since": date(d.created_at),
                    "href": ctx.href("/clientarea.php?action=domaindetails", id=d.id)} for d in rows]
    return ctx.render("domains.html", "domains", domains=domains)


def _domaindetails(ctx: Ctx) -> Response:
    domain = _owned(ctx, Domain)
    if domain is None:
        return ctx.not_found("That domain")
    return ctx.render("domaindetails.html", "domains", domain=domain, since=date(domain.created_at))


def _invoices(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        rows = s.scalars(select(Invoice).where(Invoice.client_id == ctx.account.id)
                         .order_by(Invoice.id.desc())).all()
        invoices = [{"id": i.id, "date": date(i.created_at), "total": i.total, "status": i.status} for i in rows]
    return ctx.render("invoices.html", "invoices", invoices=invoices)


def _emails(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        rows = s.scalars(select(EmailMessage).where(EmailMessage.client_id == ctx.account.id)
                         .order_by(EmailMessage.sent_at.desc(), EmailMessage.id.desc()).limit(500)).all()
        emails = [{"id": m.id, "sent": date(m.sent_at, with_time=True), "to": m.to_address, "subject": m.subject,
                   "body": m.body} for m in rows]
    return ctx.render("emails.html", "emails", emails=emails)


ACTIONS = {
    "": _home,
    "details": _details,
    "services": _services,
    "products": _services,  # WHMCS's older name for the same list
    "productdetails": _productdetails,
    "domains": _domains,
    "domaindetails": _domaindetails,
    "invoices": _invoices,
    "emails": _emails,
}


@page
def clientarea(ctx: Ctx) -> Response:
    """``/clientarea.php``: the section named by ``?action=`` (none: the home page)."""
    handler = ACTIONS.get(ctx.arg("action") or "")
    if handler is None:
        return ctx.not_found()
    return handler(ctx)
