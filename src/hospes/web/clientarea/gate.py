"""The client area's gate: the logged-in user, the client accounts they reach, the one shown, CSRF.

Every client-area page is a plain function of a ``Ctx`` wrapped by ``page()``. The wrapper sends anyone
not logged in to ``/login?next=<the page>``; resolves the client account the page is about from the
``client`` query parameter (default: the first account the user owns), answering 404 for an account
the user cannot reach; refuses a POST without this browser's CSRF token (403, nothing changed); and
then runs the function in a worker thread, where it may use the database.

Which account is shown travels in the URL (``?client=N``), not in a cookie, so two tabs may show two
accounts and nothing about it outlives the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes import audit
from hospes.accounts import reach, sessions
from hospes.i18n import N_, _
from hospes.store.accounts import ReachedAccount, reached_accounts
from hospes.store.values import row_id
from hospes.web.context import SESSION_COOKIE, PageCtx, Web, form_expired, web_of
from hospes.web.http import first, query_params, read_form

HOME = "/clientarea.php"


# What a person invited to an account reads where its owner has not let them see a kind of record.
NOT_ALLOWED = {
    reach.SERVICES: N_("The owner of this account has not given you access to its services. Ask them if you need it."),
    reach.DOMAINS: N_("The owner of this account has not given you access to its domains. Ask them if you need it."),
    reach.INVOICES: N_("The owner of this account has not given you access to its invoices. Ask them if you need it."),
    reach.TICKETS: N_("The owner of this account has not given you access to its support tickets. Ask them if you "
                      "need it."),
    reach.EMAILS: N_("The owner of this account has not given you access to its email history. Ask them if you "
                     "need it."),
}
# The statuses the client area shows, for the catalogue (pages show each through gettext): WHMCS's words for
# clients, services, domains, invoices (accounts/service.py, store/accounts.py) and tickets.
STATUS_WORDS = (
    N_("Active"), N_("Inactive"), N_("Closed"), N_("Pending"), N_("Suspended"), N_("Terminated"),
    N_("Cancelled"), N_("Fraud"), N_("Completed"), N_("Pending Transfer"), N_("Grace"), N_("Redemption"),
    N_("Expired"), N_("Transferred Away"), N_("Draft"), N_("Unpaid"), N_("Paid"), N_("Refunded"),
    N_("Collections"), N_("Payment Pending"), N_("Open"), N_("Answered"), N_("Customer-Reply"), N_("On Hold"),
    N_("In Progress"),
)


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str
    kind: str | None = None  # what the person must be allowed to see (accounts/reach.py); None: anyone


# The sections every page links to, in the client area's own words; a section the person may not see in the
# account shown is left out (its page answers 403).
SECTIONS = (
    NavItem("home", N_("Home"), HOME),
    NavItem("details", N_("My details"), HOME + "?action=details"),
    NavItem("services", N_("Services"), HOME + "?action=services", reach.SERVICES),
    NavItem("domains", N_("Domains"), HOME + "?action=domains", reach.DOMAINS),
    NavItem("invoices", N_("Invoices"), HOME + "?action=invoices", reach.INVOICES),
    NavItem("tickets", N_("Support tickets"), "/supporttickets.php", reach.TICKETS),
    NavItem("submitticket", N_("Open a ticket"), "/submitticket.php", reach.TICKETS),
    NavItem("emails", N_("Email history"), HOME + "?action=emails", reach.EMAILS),
)
# Account settings. The first four pages belong to the account-security work; the last two are
# the owner's Single Sign-On controls (web/clientarea/controls.py).
ACCOUNT_SECTIONS = (
    NavItem("applications", N_("Connected applications"), "/account/applications"),
    NavItem("security", N_("Security settings"), "/account/security"),
    NavItem("sessions", N_("Sessions"), "/account/sessions"),
    NavItem("password", N_("Change password"), "/account/password"),
)
OWNER_SECTIONS = (
    NavItem("sso", N_("Single Sign-On"), "/account/sso"),
    NavItem("users", N_("Users and permissions"), "/account/users"),
)


def date(value: datetime | None, with_time: bool = False) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


@dataclass
class Ctx(PageCtx):
    """What a client-area page gets: a page's context, and the person, their accounts and the one shown."""

    current: sessions.CurrentSession
    accounts: list[ReachedAccount]
    account: ReachedAccount

    @property
    def actor(self) -> str:
        return f"user:{self.current.user_id}"

    def arg(self, name: str) -> str | None:
        value = first(self.query, name)
        return value[:500] if value is not None else None

    def field(self, name: str, default: str = "") -> str:
        return (first(self.form, name) or default)[:100_000]

    def reachable(self, client_id: int) -> ReachedAccount | None:
        return next((a for a in self.accounts if a.id == client_id), None)

    def href(self, path: str, **params: str | int) -> str:
        """A client-area link that keeps the account shown (only when there is a choice to keep)."""
        extra: dict[str, str | int] = {}
        if len(self.accounts) > 1:
            extra["client"] = self.account.id
        extra.update(params)
        if not extra:
            return self.web.path(path)
        return self.web.path(path) + ("&" if "?" in path else "?") + urlencode(extra)

    def nav(self, items: tuple[NavItem, ...]) -> list[dict[str, str]]:
        return [{"key": i.key, "label": i.label, "href": self.href(i.path)} for i in items
                if i.kind is None or self.may(i.kind)]

    def layout(self, section: str) -> dict[str, Any]:
        """What the client area's layout shows around a page; ``section`` marks the current navigation entry."""
        account_items = ACCOUNT_SECTIONS + (OWNER_SECTIONS if self.account.owner else ())
        return {"current": self.current, "accounts": self.accounts, "account": self.account, "section": section,
                "nav": self.nav(SECTIONS), "account_nav": self.nav(account_items), "href": self.href,
                "switch_action": self.web.path(HOME)}

    def render(self, template: str, section: str, status: int = 200, **context: Any) -> Response:
        """A page in the client area's layout. ``template`` is under ``templates/clientarea/`` unless it names
        its own folder (``"account/security.html"``); ``section`` marks the current navigation entry."""
        name = template if "/" in template else "clientarea/" + template
        return self.web.render_form(self.request, name, status=status, **self.layout(section), **context)

    def message(self, status: int, heading: str, message: str, section: str = "") -> Response:
        return self.render("message.html", section, status=status, heading=heading, message=message)

    def not_found(self, message: str = N_("That page was not found in your account.")) -> Response:
        """A 404 in the client area's layout; ``message`` a catalogue string (marked with N_)."""
        return self.message(404, _("Not found"), _(message))

    def may(self, kind: str, account: ReachedAccount | None = None) -> bool:
        """Whether the person may see ``kind`` (accounts/reach.py) in ``account`` (default: the one shown)."""
        return reach.person_may(account or self.account, kind)

    def not_allowed(self, kind: str) -> Response:
        """A 403 for a kind of record (accounts/reach.py) the owner has not let this person see."""
        return self.message(403, _("Not allowed"), _(NOT_ALLOWED[kind]))

    def owner_only(self) -> Response:
        return self.message(403, _("Only the account owner can do this"),
                            _("These settings belong to the owner of the account. Ask them if something needs to "
                              "change."))

    def redirect(self, path: str, **params: str | int) -> Response:
        return RedirectResponse(self.href(path, **params), status_code=303)

    def audit(self, s: Session, action: str, target: str = "", **details: Any) -> None:
        audit.record(s, actor=self.actor, action=action, target=target, ip=self.ip, details=details)


Handler = Callable[[Ctx], Response]


def _load(web: Web, cookie: str | None) -> tuple[sessions.CurrentSession | None, list[ReachedAccount]]:
    with web.provider.db.transaction() as s:
        current = sessions.current(s, cookie)
        return current, reached_accounts(s, current.user_id) if current else []


def login_redirect(web: Web, request: Request) -> Response:
    """To the login page, which brings the person back here afterwards (a path on this site only)."""
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if len(wanted) > 500:
        wanted = request.url.path
    return RedirectResponse(web.path("/login") + "?" + urlencode({"next": wanted}), status_code=303)


def _plain_page(web: Web, request: Request, status: int, heading: str, message: str,
                code: str | None = None) -> Response:
    return web.pages.render("error.html", status=status, heading=heading, message=message, code=code,
                            hint=_("Go back to the client area and try again."))


def page(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Make ``fn`` an endpoint for a logged-in client-area user."""

    async def endpoint(request: Request) -> Response:
        web = web_of(request)
        # A form or query that cannot be read is app.py's 400 page (web/http.py), before anything else.
        form = await read_form(request, required=False) if request.method == "POST" else {}
        query = query_params(request)
        current, accounts = await run_in_threadpool(_load, web, request.cookies.get(SESSION_COOKIE))
        if current is None:
            return login_redirect(web, request)
        if not accounts:
            return _plain_page(web, request, 404, _("No client account"),
                               _("Your login is not linked to any client account."))
        ctx = Ctx(request=request, web=web, current=current, accounts=accounts, account=accounts[0], form=form,
                  query=query, ip=web.ip(request))
        wanted = first(query, "client")
        if wanted is not None:
            chosen = ctx.reachable(row_id(wanted) or 0)
            if chosen is None:
                return ctx.not_found(N_("That account was not found in your account."))
            ctx.account = chosen
        if request.method == "POST" and not web.csrf_ok(request, first(form, "token")):
            return form_expired(web, request, "clientarea/message.html", **ctx.layout(""))
        return await run_in_threadpool(fn, ctx)

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint
