"""``/clientarea.php`` and its ``?action=`` sections (WHMCS's paths): home, details, services, domains,
invoices and email history. Read-only views of the account shown (see gate.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.responses import Response

from hospes.accounts import reach, verification
from hospes.i18n import N_
from hospes.sso import destinations
from hospes.store import accounts, records
from hospes.store.values import row_id
from hospes.web.clientarea.gate import ACCOUNT_SECTIONS, OWNER_SECTIONS, SECTIONS, Ctx, date, page

# Destinations Hospes does not render, linked from the home page when an external client area is set
# (HOSPES_EXTERNAL_CLIENTAREA_URL); labels after WHMCS's client-area menus
# (https://github.com/WHMCS/templates-twenty-one).
EXTERNAL_LINKS = (
    ("clientarea:shopping_cart", N_("Order new services")),
    ("clientarea:shopping_cart_addons", N_("Product addons")),
    ("clientarea:shopping_cart_domain_register", N_("Register a new domain")),
    ("clientarea:shopping_cart_domain_transfer", N_("Transfer a domain to us")),
    ("clientarea:billing_info", N_("Manage billing information")),
    ("clientarea:announcements", N_("Announcements")),
    ("clientarea:knowledgebase", N_("Knowledgebase")),
    ("clientarea:downloads", N_("Downloads")),
    ("clientarea:network_status", N_("Network status")),
)
# The email history shows the newest mails only.
EMAILS_SHOWN = 500


def _home(ctx: Ctx) -> Response:
    with ctx.db.read() as s:
        n = records.counts(s, ctx.account.id)
    counts = [(label, count, ctx.href(section.path)) for label, count, section, kind in (
        (N_("Services"), n.services, SECTIONS[2], reach.SERVICES),
        (N_("Domains"), n.domains, SECTIONS[3], reach.DOMAINS),
        (N_("Unpaid invoices"), n.unpaid_invoices, SECTIONS[4], reach.INVOICES),
        (N_("Open tickets"), n.open_tickets, SECTIONS[5], reach.TICKETS),
    ) if ctx.may(kind)]
    external = []
    if ctx.settings.external_clientarea_url:
        external = [(label, destinations.url_for(ctx.settings, scope)) for scope, label in EXTERNAL_LINKS]
    account_items = ACCOUNT_SECTIONS + (OWNER_SECTIONS if ctx.account.owner else ())
    return ctx.render("home.html", "home", counts=counts, sections=ctx.nav(SECTIONS[1:]),
                      account_sections=ctx.nav(account_items), external=external,
                      external_host=ctx.settings.external_clientarea_url or "")


def details(ctx: Ctx, *, status: int = 200, verification_error: str | None = None) -> Response:
    """My details; after a verification link was asked for (``?verification=sent``), or could not be sent. The
    person's own details always show; the account's only to its owner and to those given ``profile``."""
    with ctx.db.read() as s:
        user = accounts.person(s, ctx.current.user_id)
        client = accounts.client_account(s, ctx.account.id)
        owner = accounts.person(s, client.owner_user_id) if client else None
    if user is None or client is None:
        return ctx.not_found(N_("Your account was not found."))
    allowed = ctx.may(reach.PROFILE)
    return ctx.render("details.html", "details", status=status, user=user, client=client if allowed else None,
                      owner=owner if allowed else None,
                      verification_sent=ctx.arg("verification") == "sent" and not user.email_verified,
                      verification_hours=verification.VERIFY_TTL // 3600, verification_error=verification_error)


def _services(ctx: Ctx) -> Response:
    if not ctx.may(reach.SERVICES):
        return ctx.not_allowed(reach.SERVICES)
    with ctx.db.read() as s:
        rows = records.services(s, ctx.account.id)
    services = [{"id": sv.id, "product": sv.product_name, "domain": sv.domain, "status": sv.status,
                 "since": date(sv.created_at), "href": ctx.href("/clientarea.php?action=productdetails", id=sv.id)}
                for sv in rows]
    return ctx.render("services.html", "services", services=services)


Row = TypeVar("Row", records.ServiceRow, records.DomainRow)


def _one(ctx: Ctx, read: Callable[[Session, int], Row | None], what: str, template: str, section: str,
         name: str, kind: str) -> Response:
    """The page of the row named by ``?id=`` when it belongs to an account the user reaches, else a 404
    (another customer's id looks exactly like one that does not exist), or a 403 when the person may not see
    that kind of record there. The page then shows that account."""
    wanted = row_id(ctx.arg("id"))
    with ctx.db.read() as s:
        row = read(s, wanted) if wanted else None
    account = ctx.reachable(row.client_id) if row is not None else None
    if row is None or account is None:
        return ctx.not_found(what)
    ctx.account = account
    if not ctx.may(kind):
        return ctx.not_allowed(kind)
    shown: dict[str, Any] = {name: row, "since": date(row.created_at)}
    return ctx.render(template, section, **shown)


def _productdetails(ctx: Ctx) -> Response:
    return _one(ctx, records.service, N_("That service was not found in your account."),
                "productdetails.html", "services", "service", reach.SERVICES)


def _domains(ctx: Ctx) -> Response:
    if not ctx.may(reach.DOMAINS):
        return ctx.not_allowed(reach.DOMAINS)
    with ctx.db.read() as s:
        rows = records.domains(s, ctx.account.id)
    domains = [{"id": d.id, "domain": d.domain, "status": d.status, "since": date(d.created_at),
                "expires": d.expires_on.isoformat() if d.expires_on else "",
                "href": ctx.href("/clientarea.php?action=domaindetails", id=d.id)} for d in rows]
    return ctx.render("domains.html", "domains", domains=domains)


def _domaindetails(ctx: Ctx) -> Response:
    return _one(ctx, records.domain, N_("That domain was not found in your account."),
                "domaindetails.html", "domains", "domain", reach.DOMAINS)


def _invoices(ctx: Ctx) -> Response:
    if not ctx.may(reach.INVOICES):
        return ctx.not_allowed(reach.INVOICES)
    with ctx.db.read() as s:
        rows = records.invoices(s, ctx.account.id)
    invoices = [{"id": i.id, "date": date(i.created_at), "total": f"{i.total} {i.currency}", "status": i.status,
                 "due": i.due_on.isoformat() if i.due_on else ""} for i in rows]
    return ctx.render("invoices.html", "invoices", invoices=invoices)


def _emails(ctx: Ctx) -> Response:
    if not ctx.may(reach.EMAILS):
        return ctx.not_allowed(reach.EMAILS)
    with ctx.db.read() as s:
        rows = records.emails(s, ctx.account.id, records.Window(limit=EMAILS_SHOWN))
    emails = [{"id": m.id, "sent": date(m.sent_at, with_time=True), "to": m.to_address, "subject": m.subject,
               "body": m.body} for m in rows]
    return ctx.render("emails.html", "emails", emails=emails)


ACTIONS = {
    "": _home,
    "details": details,
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
