"""GET /oauth/singlesignon.php?access_token=…: redeem a one-time SSO token into a fresh session."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.i18n import _
from hospes.sso.signon import Refused, sign_on
from hospes.web.context import SESSION_COOKIE, web_of
from hospes.web.http import parse_params


async def redeem(request: Request) -> Response:
    web = web_of(request)
    try:
        values = parse_params(request.url.query).get("access_token", [])
    except Exception:
        values = []
    token = values[0] if len(values) == 1 else ""
    out = await run_in_threadpool(lambda: sign_on(
        web.provider.db, web.settings, token, ip=web.ip(request), user_agent=request.headers.get("user-agent", ""),
        old_session=request.cookies.get(SESSION_COOKIE)))
    if isinstance(out, Refused):
        return web.pages.render("error.html", status=403, heading=_("Single Sign-On failed"), message=out.message,
                                hint=_("Log in to the client area with your email address and password instead."))
    response = RedirectResponse(out.landing_url, status_code=303, headers={"Cache-Control": "no-store"})
    web.set_cookie(response, SESSION_COOKIE, out.token)
    return response
