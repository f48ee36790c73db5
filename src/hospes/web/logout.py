"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the client area's own logout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import sessions
from hospes.oauth import errors, id_token
from hospes.store.models import OAuthCredential, User
from hospes.web.context import SESSION_COOKIE, Web, web_of
from hospes.web.http import Params, add_params, first, query_params, read_form
from hospes.web.security import csp_with_form_targets


class LogoutError(Exception):
    pass


def _resolve(web: Web, params: Params, cookie: str | None) -> dict[str, Any]:
    """Validate the logout request: who asks, and where to send the browser afterwards."""
    for name in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales"):
        if len(params.get(name, [])) > 1:
            raise LogoutError(f"The {name} parameter must not be repeated.")
    hint = first(params, "id_token_hint")
    redirect = first(params, "post_logout_redirect_uri")
    client_id = first(params, "client_id")
    state = first(params, "state")
    claims = None
    if hint:
        claims = id_token.decode_hint(web.provider, hint)
        if claims is None:
            raise LogoutError("The id_token_hint is not a valid ID token from this provider.")
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        if client_id and client_id not in aud_list:
            raise LogoutError("The client_id does not match the id_token_hint.")
        client_id = client_id or (aud_list[0] if aud_list else None)
    with web.provider.db.transaction() as s:
        cred = None
        if client_id:
            cred = s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == client_id))
            if cred is None:
                raise LogoutError("The client_id is not known.")
        if redirect:
            # RP-Initiated Logout §3: the URI must have been registered for the client named by
            # id_token_hint or client_id.
            if cred is None:
                raise LogoutError("A post_logout_redirect_uri needs an id_token_hint or a client_id.")
            if redirect not in (cred.post_logout_redirect_uris or []):
                raise LogoutError("The post_logout_redirect_uri is not registered for this application.")
        current = sessions.current(s, cookie)
        hint_matches = False
        if claims is not None and current is not None:
            user = s.get(User, current.user_id)
            hint_matches = user is not None and user.uuid == claims.get("sub")
    return {
        "redirect": redirect, "state": state, "app_name": (cred.name if cred else "") or "",
        "has_session": current is not None, "hint_matches": hint_matches,
    }


def _finish(web: Web, request: Request, info: dict[str, Any], cookie: str | None) -> Response:
    if info.get("redirect"):
        params = {"state": info["state"]} if info.get("state") else {}
        response: Response = RedirectResponse(add_params(info["redirect"], params), status_code=303)
    else:
        response = web.pages.render("message.html", heading="You have logged out",
                                    message=f"You are no longer logged in to {web.settings.company_name}.",
                                    link=web.path("/clientarea.php"), link_text="Log in again")
    web.clear_cookie(response, SESSION_COOKIE)
    return response


def _end(web: Web, cookie: str | None) -> None:
    with web.provider.db.transaction() as s:
        sessions.end(s, cookie)


async def end_session(request: Request) -> Response:
    web = web_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        form = await read_form(request, required=False)
    except Exception:
        form = {}
    if request.method == "POST" and "logout_request" in form:
        info = web.unsign("logout", first(form, "logout_request"))
        if info is None:
            return web.pages.render("error.html", status=400, heading="This page has expired",
                                    message="The logout request has expired.", code="invalid_request")
        if not web.csrf_ok(request, first(form, "token")):
            return web.pages.render("error.html", status=403, heading="Form expired", code="csrf_failed",
                                    message="This form was not sent from this site. Nothing was changed.")
        if first(form, "confirm") != "yes":
            return web.pages.render("message.html", heading="You are still logged in",
                                    message="Nothing was changed.", link=web.path("/clientarea.php"),
                                    link_text="Go to the client area")
        await run_in_threadpool(_end, web, cookie)
        return _finish(web, request, info, cookie)
    try:
        # A query that is not valid UTF-8 (``%ff``) is a bad request, not a server error.
        params = form if request.method == "POST" else query_params(request)
        info = await run_in_threadpool(_resolve, web, params, cookie)
    except (LogoutError, errors.OAuthError) as exc:
        return web.pages.render("error.html", status=400, heading="Logout request not valid",
                                message=str(exc), code="invalid_request")
    # With a matching id_token_hint the RP has proved the person's session; otherwise ask (RP-Initiated Logout §2).
    if info["has_session"] and not info["hint_matches"]:
        # The confirmation's post answers with a redirect to post_logout_redirect_uri: allow it (security.py).
        csp = csp_with_form_targets(info["redirect"]) if info.get("redirect") else None
        return web.render_form(request, "logout.html", action=web.path("/oauth/logout"),
                               logout_request=web.sign("logout", info), app_name=info["app_name"],
                               headers={"Content-Security-Policy": csp} if csp else None)
    await run_in_threadpool(_end, web, cookie)
    return _finish(web, request, info, cookie)
