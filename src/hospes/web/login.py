"""The client area's own login and logout (outside an OAuth flow)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import login as accounts_login
from hospes.accounts import sessions
from hospes.i18n import _
from hospes.web.account import second_factor
from hospes.web.context import SESSION_COOKIE, Web, form_expired, web_of
from hospes.web.http import Params, first, query_params, read_form

Outcome = accounts_login.PasswordOutcome


async def check_password(web: Web, request: Request, email: str, password: str,
                         then: accounts_login.Then | None = None) -> Outcome:
    """A customer's email and password from a login form (the OAuth login page or /login)."""
    attempt = accounts_login.Attempt(
        login=email, password=password, ip=web.ip(request), user_agent=request.headers.get("user-agent", ""),
        old_session=request.cookies.get(SESSION_COOKIE),
        device=web.device(request, accounts_login.login_name(email)))
    return await run_in_threadpool(accounts_login.customer, web.provider.db, web.settings.session_ttl, attempt, then)


def keep_device(web: Web, response: Response, email: str, out: Outcome) -> None:
    """After a right password, the browser keeps a device value for this login (accounts/login.py)."""
    if isinstance(out, accounts_login.SecondFactorDue | accounts_login.LoggedIn):
        web.set_device(response, accounts_login.login_name(email), out.device)


def safe_next(web: Web, value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no backslash tricks)."""
    home = web.path("/clientarea.php")
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return home
    if any(ord(c) < 33 for c in value):
        return home
    return value


async def login(request: Request) -> Response:
    web = web_of(request)
    if request.method == "GET":
        return web.render_form(request, "login.html", action=web.path("/login"),
                               next=safe_next(web, first(query_params(request), "next")))
    form = await read_form(request, required=False)
    nxt = safe_next(web, first(form, "next"))
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    if second_factor.FIELD in form:
        return await _second_factor(web, request, form, nxt)
    email = (first(form, "username") or "")[:255]
    password = first(form, "password") or ""
    out = await check_password(web, request, email, password)
    if isinstance(out, accounts_login.SecondFactorDue):
        response = second_factor.page(web, request, action=web.path("/login"), hidden={"next": nxt},
                                      blob=second_factor.pending(web, request, out.user_id))
    elif isinstance(out, accounts_login.LoggedIn):
        response = RedirectResponse(nxt, status_code=303)
        web.set_cookie(response, SESSION_COOKIE, out.token)
    else:
        error, status = ((accounts_login.throttled_message(out.wait), 429) if isinstance(out, accounts_login.Throttled)
                         else (_(accounts_login.INCORRECT), 401))
        return web.render_form(request, "login.html", status=status, action=web.path("/login"), next=nxt,
                               error=error, username=email)
    keep_device(web, response, email, out)
    return response


async def _second_factor(web: Web, request: Request, form: Params, nxt: str) -> Response:
    """The code page posted back (two-factor login): log in and go on to ``next``, or say what was wrong."""
    out = await second_factor.complete(web, request, form)
    if out.expired:
        return web.render_form(request, "login.html", status=400, action=web.path("/login"), next=nxt,
                               error=_(second_factor.EXPIRED))
    if out.token is None:
        return second_factor.page(web, request, action=web.path("/login"), hidden={"next": nxt},
                                  blob=second_factor.blob_of(form) or "", error=out.error, status=out.status)
    response = RedirectResponse(nxt, status_code=303)
    web.set_cookie(response, SESSION_COOKIE, out.token)
    return response


async def logout(request: Request) -> Response:
    web = web_of(request)
    form = await read_form(request, required=False)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    cookie = request.cookies.get(SESSION_COOKIE)

    def end() -> None:
        with web.provider.db.transaction() as s:
            sessions.end(s, cookie)

    await run_in_threadpool(end)
    response = web.pages.render("message.html", heading=_("You have logged out"),
                                message=_("You are no longer logged in to %(company)s.")
                                % {"company": web.settings.company_name},
                                link=web.path("/clientarea.php"), link_text=_("Log in again"))
    web.clear_cookie(response, SESSION_COOKIE)
    return response
