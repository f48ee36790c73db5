"""The client area's own login and logout (outside an OAuth flow)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import sessions
from hospes.web.account import second_factor
from hospes.web.authorize import LOGIN_INCORRECT, _check_login
from hospes.web.context import SESSION_COOKIE, Web, web_of
from hospes.web.http import Params, first, read_form


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
                               next=safe_next(web, request.query_params.get("next")))
    form = await read_form(request, required=False)
    nxt = safe_next(web, first(form, "next"))
    if not web.csrf_ok(request, first(form, "token")):
        return web.pages.render("error.html", status=403, heading="Form expired", code="csrf_failed",
                                message="This form was not sent from this site, or it has expired. "
                                        "Nothing was changed.")
    if second_factor.FIELD in form:
        return await _second_factor(web, request, form, nxt)
    email = (first(form, "username") or "")[:255]
    password = first(form, "password") or ""
    check = await run_in_threadpool(_check_login, web, email, password, web.ip(request),
                                    request.headers.get("user-agent", ""), request.cookies.get(SESSION_COOKIE))
    if check.second_factor_user is not None:
        return second_factor.page(web, request, action=web.path("/login"), hidden={"next": nxt},
                                  blob=second_factor.pending(web, request, check.second_factor_user))
    token, wait = check.token, check.wait
    if token is None:
        if wait > 0:
            minutes = max(1, (wait + 59) // 60)
            error, status = f"Too many failed login attempts. Please try again in {minutes} minutes.", 429
        else:
            error, status = LOGIN_INCORRECT, 401
        return web.render_form(request, "login.html", status=status, action=web.path("/login"), next=nxt,
                               error=error, username=email)
    response = RedirectResponse(nxt, status_code=303)
    web.set_cookie(response, SESSION_COOKIE, token)
    return response


async def _second_factor(web: Web, request: Request, form: Params, nxt: str) -> Response:
    """The code page posted back (two-factor login): log in and go on to ``next``, or say what was wrong."""
    out = await second_factor.complete(web, request, form)
    if out.expired:
        return web.render_form(request, "login.html", status=400, action=web.path("/login"), next=nxt,
                               error=second_factor.EXPIRED)
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
        return web.pages.render("error.html", status=403, heading="Form expired", code="csrf_failed",
                                message="This form was not sent from this site. Nothing was changed.")
    cookie = request.cookies.get(SESSION_COOKIE)

    def end() -> None:
        with web.provider.db.transaction() as s:
            sessions.end(s, cookie)

    await run_in_threadpool(end)
    response = web.pages.render("message.html", heading="You have logged out",
                                message=f"You are no longer logged in to {web.settings.company_name}.",
                                link=web.path("/clientarea.php"), link_text="Log in again")
    web.clear_cookie(response, SESSION_COOKIE)
    return response
