"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the client area's own logout."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import sessions
from hospes.i18n import _
from hospes.oauth import errors
from hospes.oauth import logout as core
from hospes.web import locale
from hospes.web.context import SESSION_COOKIE, Web, form_expired, web_of
from hospes.web.http import Params, add_params, first, query_params, read_form
from hospes.web.security import csp_with_form_targets


def _resolve(web: Web, params: Params, cookie: str | None) -> dict[str, Any]:
    """The validated request, and what the browser's session says about it (signed into the confirmation)."""
    with web.provider.db.transaction() as s:
        req = core.parse(web.provider, s, params)
        current = sessions.current(s, cookie)
        matches = current is not None and core.hint_matches(s, req, current.user_id)
    return {"redirect": req.redirect, "state": req.state, "app_name": req.app_name,
            "has_session": current is not None, "hint_matches": matches}


def _finish(web: Web, request: Request, info: dict[str, Any], cookie: str | None) -> Response:
    if info.get("redirect"):
        params = {"state": info["state"]} if info.get("state") else {}
        response: Response = RedirectResponse(add_params(info["redirect"], params), status_code=303)
    else:
        response = web.pages.render("message.html", heading=_("You have logged out"),
                                    message=_("You are no longer logged in to %(company)s.")
                                    % {"company": web.settings.company_name},
                                    link=web.path("/clientarea.php"), link_text=_("Log in again"))
    web.clear_cookie(response, SESSION_COOKIE)
    return response


def _end(web: Web, cookie: str | None) -> None:
    with web.provider.db.transaction() as s:
        sessions.end(s, cookie)


async def end_session(request: Request) -> Response:
    web = web_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    form = await read_form(request, required=False)
    if request.method == "POST" and "logout_request" in form:
        info = web.unsign("logout", first(form, "logout_request"))
        if info is None:
            return web.pages.render("error.html", status=400, heading=_("This page has expired"),
                                    message=_("The logout request has expired."), code="invalid_request")
        if not web.csrf_ok(request, first(form, "token")):
            return form_expired(web, request)
        if first(form, "confirm") != "yes":
            return web.pages.render("message.html", heading=_("You are still logged in"),
                                    message=_("Nothing was changed."), link=web.path("/clientarea.php"),
                                    link_text=_("Go to the client area"))
        await run_in_threadpool(_end, web, cookie)
        return _finish(web, request, info, cookie)
    try:
        # A query that is not valid UTF-8 (``%ff``) is a bad request, not a server error.
        params = form if request.method == "POST" else query_params(request)
        # OpenID Connect RP-Initiated Logout 1.0 §2: ui_locales, the language of the confirmation page.
        locale.prefer(request, first(params, "ui_locales"))
        info = await run_in_threadpool(_resolve, web, params, cookie)
    except errors.OAuthError as exc:
        return web.pages.render("error.html", status=400, heading=_("Logout request not valid"),
                                message=exc.description or _("The logout request is not valid."),
                                code="invalid_request")
    # With a matching id_token_hint the RP has proved the person's session; otherwise ask (RP-Initiated Logout §2).
    if info["has_session"] and not info["hint_matches"]:
        # The confirmation's post answers with a redirect to post_logout_redirect_uri: allow it (security.py).
        csp = csp_with_form_targets(info["redirect"]) if info.get("redirect") else None
        return web.render_form(request, "logout.html", action=web.path("/oauth/logout"),
                               logout_request=web.sign("logout", info), app_name=info["app_name"],
                               headers={"Content-Security-Policy": csp} if csp else None)
    await run_in_threadpool(_end, web, cookie)
    return _finish(web, request, info, cookie)
