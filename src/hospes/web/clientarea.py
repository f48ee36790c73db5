"""The client area's entry (``/clientarea.php``), its login and logout; sections come later."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import sessions
from hospes.web.authorize import LOGIN_INCORRECT, _check_login
from hospes.web.context import SESSION_COOKIE, Web, web_of
from hospes.web.http import first, read_form


def _current(web: Web, cookie: str | None) -> sessions.CurrentSession | None:
    with web.provider.db.transaction() as s:
        return sessions.current(s, cookie)


def _safe_next(web: Web, value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no backslash tricks)."""
    home = web.path("/clientarea.php")
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return home
    if any(ord(c) < 33 for c in value):
        return home
    return value


async def home(request: Request) -> Response:
    web = web_of(request)
    current = await run_in_threadpool(_current, web, request.cookies.get(SESSION_COOKIE))
    if current is None:
        return web.render_form(request, "login.html", action=web.path("/login"), next=web.path("/clientarea.php"))
    sections = [("Account details", web.path("/clientarea.php?action=details"))]
    return web.render_form(request, "clientarea_home.html", current=current, sections=sections)


async def login(request: Request) -> Response:
    web = web_of(request)
    if request.method == "GET":
        return web.render_form(request, "login.html", action=web.path("/login"),
                               next=_safe_next(web, request.query_params.get("next")))
    form = await read_form(request, required=False)
    nxt = _safe_next(web, first(form, "next"))
    if not web.csrf_ok(request, first(form, "token")):
        return web.pages.render("error.html", status=403, heading="Form expired", code="csrf_failed",
                                message="This form was not sent from this site, or it has expired. Nothing was changed.")
    email = (first(form, "username") or "")[:255]
    password = first(form, "password") or ""
    token, wait = await run_in_threadpool(_check_login, web, email, password, web.ip(request),
                                          request.headers.get("user-agent", ""),
                                          request.cookies.get(SESSION_COOKIE))
    if token is None:
        if wait > 0:
            error, status = f"Too many failed login attempts. Please try again in {max(1, (wait + 59) // 60)} minutes.", 429
        else:
            error, status = LOGIN_INCORRECT, 401
        return web.render_form(request, "login.html", status=status, action=web.path("/login"), next=nxt,
                               error=error, username=email)
    response = RedirectResponse(nxt, status_code=303)
    web.set_cookie(response, SESSION_COOKIE, token)
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
