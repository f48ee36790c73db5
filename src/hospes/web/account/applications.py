"""``/account/applications``: the applications the user has approved, each with what it may do, when it was
first approved and last used, and a "Revoke access" button; ``/account/applications.json``: the same list."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes.accounts import connected_apps, sessions
from hospes.i18n import N_
from hospes.store.values import row_id
from hospes.web.clientarea.gate import Ctx, date, page
from hospes.web.context import SESSION_COOKIE, Web, web_of
from hospes.web.http import NO_STORE, json_response

PATH = "/account/applications"


def _revoke(ctx: Ctx) -> Response:
    app_id = row_id(ctx.field("app"))
    with ctx.db.transaction() as s:
        found = connected_apps.revoke(s, user_id=ctx.current.user_id, app_id=app_id or 0, actor=ctx.actor,
                                      ip=ctx.ip)
    if found is None:
        return ctx.not_found(N_("That application was not found in your account."))
    return ctx.redirect(PATH, revoked=found.credential_id)


@page
def applications(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        return _revoke(ctx)
    revoked_name = None
    with ctx.db.read() as s:
        apps = connected_apps.list_for_user(s, ctx.current.user_id)
        revoked_id = row_id(ctx.arg("revoked"))
        if revoked_id is not None:
            revoked_name = connected_apps.revoked_name(s, ctx.current.user_id, revoked_id)
    rows = [{"id": a.id, "name": a.name, "logo": a.logo_uri, "permissions": a.permissions,
             "scopes": a.scopes, "accounts": [label for _, label in a.accounts],
             "first_approved": date(a.first_approved), "last_used": date(a.last_used, with_time=True)}
            for a in apps]
    return ctx.render("account/applications.html", "applications", apps=rows, revoked=revoked_name)


def _list(web: Web, cookie: str | None) -> list[dict[str, object]] | None:
    with web.provider.db.transaction() as s:
        current = sessions.current(s, cookie)
        if current is None:
            return None
        return [a.as_json() for a in connected_apps.list_for_user(s, current.user_id)]


async def applications_json(request: Request) -> Response:
    """The logged-in user's connected applications as JSON; 401 when not logged in."""
    web = web_of(request)
    apps = await run_in_threadpool(_list, web, request.cookies.get(SESSION_COOKIE))
    if apps is None:
        return json_response({"error": "login_required", "error_description": "Log in to see your applications."},
                             401, headers=dict(NO_STORE))
    return json_response({"applications": apps}, headers=dict(NO_STORE))
