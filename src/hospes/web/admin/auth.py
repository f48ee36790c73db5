"""The admin area's gate: login, logout, the session cookie, permissions, CSRF, and the page wrapper.

Every admin page is written as a plain function of a ``Ctx`` and wrapped by ``page(area)``, which
refuses the request unless a live admin session is present (redirect to the login page), the admin may
use that area (403 page), and, for a POST, the form carries this browser's CSRF token (403 page, nothing
changed). The wrapped function then runs in a worker thread, where it may use the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes import audit
from hospes.accounts import admin_sessions as sessions
from hospes.accounts import login as accounts_login
from hospes.accounts.admin_sessions import AdminUser
from hospes.i18n import N_, _
from hospes.store.values import row_id
from hospes.web.context import PageCtx, Web, form_expired, web_of
from hospes.web.http import first, query_params, read_form

COOKIE = "hospes_admin"
DEVICE_COOKIE = "hospes_admin_device"

# WHMCS's admin permission names (accounts.service.ADMIN_PERMISSIONS).
CONFIGURE_OIDC = "Configure OpenID Connect"
MANAGE_CLIENTS = "Manage Clients"


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    path: str  # below the issuer path
    summary: str


SECTIONS = (
    Section("home", N_("Dashboard"), "/admin/", N_("What you can do here.")),
    Section("oidc", N_("OpenID Connect"), "/admin/oauth",
            N_("Client API credentials for applications that log customers in with OpenID Connect.")),
    Section("resources", N_("Resource servers"), "/admin/resources",
            N_("Your own APIs that accept access tokens: their identifiers, scopes and token format.")),
    Section("clients", N_("Clients"), "/admin/clients",
            N_("Find client accounts; change their status and the Allow Single Sign-On switch.")),
    Section("api", N_("API credentials"), "/admin/api", N_("API roles and the API credentials of staff.")),
    Section("admins", N_("Admins"), "/admin/admins",
            N_("Staff who use the admin area: add, disable, permissions, password resets.")),
    Section("keys", N_("Signing keys"), "/admin/keys", N_("The keys that sign ID tokens: their state, and rotation.")),
    Section("audit", N_("Audit log"), "/admin/audit", N_("Who changed what, when and from where.")),
)


def may(admin: AdminUser, area: str) -> bool:
    """"API Access" is for the API itself only; API credentials, admins, signing keys and the audit log are for
    full admins."""
    if area == "home":
        return True
    if area in ("oidc", "resources"):
        return admin.has(CONFIGURE_OIDC)
    if area == "clients":
        return admin.has(MANAGE_CLIENTS)
    return admin.full


def nav(web: Web, admin: AdminUser) -> list[dict[str, str]]:
    return [{"key": s.key, "label": _(s.label), "href": web.path(s.path), "summary": _(s.summary)}
            for s in SECTIONS if may(admin, s.key)]


@dataclass
class Ctx(PageCtx):
    """What an admin page gets: a page's context, and the admin and the area (section) they are in."""

    admin: AdminUser
    area: str

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter, bounded."""
        return (first(self.query, name) or default)[:500]

    def field(self, name: str, default: str = "") -> str:
        """A form field, bounded (longer values are refused by the rules they go to)."""
        return (first(self.form, name) or default)[:10000]

    def done_notice(self, notices: dict[str, str]) -> str | None:
        """The notice (marked with ``N_``) for the ``done`` the last POST redirected with, translated."""
        done = notices.get(self.arg("done"))
        return _(done) if done else None

    def path_int(self, name: str) -> int:
        """An id from the path; 0 (no such row) when beyond a database integer."""
        return row_id(self.request.path_params[name]) or 0

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return self.web.render_form(self.request, "admin/" + template, status=status, admin=self.admin,
                                    nav=nav(self.web, self.admin), section=self.area, **context)

    def redirect(self, p: str) -> Response:
        return RedirectResponse(self.path(p), status_code=303)

    def not_found(self, what: str) -> Response:
        """``what``: the whole message, marked with ``N_`` ("That admin was not found.")."""
        return self.render("message.html", status=404, heading=_("Not found"), message=_(what))

    def audit(self, s: Any, action: str, target: str = "", **details: Any) -> None:
        audit.record(s, actor=self.admin.actor, action=action, target=target, ip=self.ip, details=details)


Handler = Callable[[Ctx], Response]


def _current(web: Web, token: str | None) -> AdminUser | None:
    with web.provider.db.transaction() as s:
        return sessions.current(s, token)


def _csrf_refused(web: Web, request: Request, admin: AdminUser | None) -> Response:
    return form_expired(web, request, "admin/message.html", admin=admin, nav=nav(web, admin) if admin else [])


def page(area: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Make ``fn`` an endpoint that needs a live admin session allowed to use ``area``."""

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            web = web_of(request)
            # A form or query that cannot be read is app.py's 400 page (web/http.py), before anything else.
            form = await read_form(request, required=False) if request.method == "POST" else {}
            query = query_params(request)
            admin = await run_in_threadpool(_current, web, request.cookies.get(COOKIE))
            if admin is None:
                target = web.path("/admin/login")
                if request.method == "GET":
                    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    target += "?next=" + quote(wanted, safe="/")
                return RedirectResponse(target, status_code=303)
            ctx = Ctx(request=request, web=web, admin=admin, area=area, form=form, query=query,
                      ip=web.ip(request))
            if not may(admin, area):
                return ctx.render("message.html", status=403, heading=_("You do not have access to this page"),
                                  message=_("Your admin account does not have the permission this page needs."),
                                  hint=_("Ask a full administrator to grant it if you need it."))
            if request.method == "POST" and not web.csrf_ok(request, first(form, "token")):
                return _csrf_refused(web, request, admin)
            return await run_in_threadpool(fn, ctx)

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        return endpoint

    return wrap


# -- login and logout ------------------------------------------------------------------------------


def _safe_next(web: Web, value: str | None) -> str:
    """Only a page of the admin area on this site."""
    home = web.path("/admin/")
    if (not value or not value.startswith(web.path("/admin/")) or value.startswith("//") or "\\" in value
            or len(value) > 500 or any(ord(c) < 33 for c in value)):
        return home
    return value


def _clean_username(value: str) -> str:
    return "".join(c for c in value.strip() if ord(c) >= 32)[:64]


def set_admin_cookie(web: Web, response: Response, token: str) -> None:
    # SameSite=Strict: no other site can make a request that carries it; the path keeps it to /admin.
    response.set_cookie(COOKIE, token, path=web.path("/admin"), secure=web.settings.secure_cookies,
                        httponly=True, samesite="strict")


def clear_admin_cookie(web: Web, response: Response) -> None:
    response.delete_cookie(COOKIE, path=web.path("/admin"), secure=web.settings.secure_cookies,
                           httponly=True, samesite="strict")


def _login_page(web: Web, request: Request, *, nxt: str, status: int = 200, error: str | None = None,
                notice: str | None = None, username: str = "") -> Response:
    return web.render_form(request, "admin/login.html", status=status, action=web.path("/admin/login"),
                           next=nxt, error=error, notice=notice, username=username)


async def login(request: Request) -> Response:
    web = web_of(request)
    if request.method == "GET":
        query = query_params(request)
        nxt = _safe_next(web, first(query, "next"))
        if await run_in_threadpool(_current, web, request.cookies.get(COOKIE)) is not None:
            return RedirectResponse(nxt, status_code=303)
        notice = _("You have logged out.") if first(query, "logged_out") else None
        return _login_page(web, request, nxt=nxt, notice=notice)
    form = await read_form(request, required=False)
    nxt = _safe_next(web, first(form, "next"))
    if not web.csrf_ok(request, first(form, "token")):
        return _csrf_refused(web, request, None)
    username = _clean_username(first(form, "username") or "")
    password = first(form, "password") or ""
    if not username or not password:
        return _login_page(web, request, nxt=nxt, status=400, username=username,
                           error=_("Enter your username and password."))
    name = accounts_login.login_name(username)
    attempt = accounts_login.Attempt(login=username, password=password, ip=web.ip(request),
                                     user_agent=request.headers.get("user-agent", ""),
                                     old_session=request.cookies.get(COOKIE),
                                     device=web.device(request, name, cookie=DEVICE_COOKIE))
    out = await run_in_threadpool(accounts_login.admin, web.provider.db, web.settings.session_ttl, attempt)
    if isinstance(out, accounts_login.Throttled):
        return _login_page(web, request, nxt=nxt, status=429, username=username,
                           error=accounts_login.throttled_message(out.wait))
    if isinstance(out, accounts_login.Wrong):
        return _login_page(web, request, nxt=nxt, status=401, username=username, error=_(accounts_login.INCORRECT))
    response = RedirectResponse(nxt, status_code=303)
    set_admin_cookie(web, response, out.token)
    web.set_device(response, name, out.device, cookie=DEVICE_COOKIE, path=web.path("/admin"), samesite="strict")
    return response


def _logout(ctx: Ctx) -> Response:
    with ctx.db.transaction() as s:
        sessions.end(s, ctx.request.cookies.get(COOKIE))
        ctx.audit(s, "admin.logout", f"admin:{ctx.admin.id}")
    response = RedirectResponse(ctx.path("/admin/login?logged_out=1"), status_code=303)
    clear_admin_cookie(ctx.web, response)
    return response


logout = page("home")(_logout)


@page("home")
def dashboard(ctx: Ctx) -> Response:
    sections = [item for item in nav(ctx.web, ctx.admin) if item["key"] != "home"]
    return ctx.render("dashboard.html", sections=sections)
