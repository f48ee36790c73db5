"""GET /oauth/singlesignon.php?access_token=…: redeem a one-time SSO token into a fresh session."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes import audit
from hospes.accounts import sessions
from hospes.sso.tokens import Redeemed
from hospes.sso.tokens import redeem as redeem_token
from hospes.web.context import SESSION_COOKIE, Web, web_of
from hospes.web.http import parse_params


def _redeem(web: Web, token: str, ip: str, user_agent: str, old_cookie: str | None) -> tuple[str | None, str]:
    """(new session token, landing URL) on success; (None, message) when refused."""
    p = web.provider
    with p.db.transaction() as s:
        result = redeem_token(s, p.settings, token)
        if not isinstance(result, Redeemed):
            audit.record(s, actor=f"user:{result.user_id}" if result.user_id else "anonymous", action="sso.refused",
                         target=f"client:{result.client_id}" if result.client_id else "", ip=ip,
                         details={"reason": result.message})
            return None, result.message
        # A fresh session, never the one the browser came with (no session fixation).
        sessions.end(s, old_cookie)
        new, _ = sessions.start(s, user=result.user, ttl=p.settings.session_ttl, amr=["sso"], acr="0", ip=ip,
                             user_agent=user_agent)
        audit.record(s, actor=f"user:{result.user.id}", action="sso.redeemed", target=f"client:{result.client_id}",
                     ip=ip, details={"landing": result.landing_url})
        return new, result.landing_url


async def redeem(request: Request) -> Response:
    web = web_of(request)
    try:
        values = parse_params(request.url.query).get("access_token", [])
    except Exception:
        values = []
    token = values[0] if len(values) == 1 else ""
    new, where = await run_in_threadpool(_redeem, web, token, web.ip(request),
                                         request.headers.get("user-agent", ""), request.cookies.get(SESSION_COOKIE))
    if new is None:
        return web.pages.render("error.html", status=403, heading="Single Sign-On failed", message=where,
                                hint="Log in to the client area with your email address and password instead.")
    response = RedirectResponse(where, status_code=303, headers={"Cache-Control": "no-store"})
    web.set_cookie(response, SESSION_COOKIE, new)
    return response
