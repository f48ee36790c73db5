"""``/account/sessions``: where the user is logged in, with "Sign out" for each and "Sign out everywhere else".

Only the user's own sessions can be signed out (another's id answers 404, as one that does not exist).
Signing out the session in use is the same as logging out.
"""

from __future__ import annotations

from starlette.responses import Response

from hospes.accounts import sessions
from hospes.i18n import N_, _
from hospes.store.values import row_id
from hospes.web.clientarea.gate import Ctx, date, page
from hospes.web.context import SESSION_COOKIE
from hospes.web.http import number

PATH = "/account/sessions"


def _post(ctx: Ctx) -> Response:
    user_id = ctx.current.user_id
    if ctx.field("action") == "others":
        with ctx.db.transaction() as s:
            ended = sessions.sign_out_others(s, user_id, ctx.current.id)
            ctx.audit(s, "session.ended_others", f"user:{user_id}", count=ended)
        return ctx.redirect(PATH, ended=ended)
    session_id = row_id(ctx.field("session"))
    with ctx.db.transaction() as s:
        done = sessions.sign_out(s, user_id, session_id or 0)
        if done:
            ctx.audit(s, "session.ended", f"user:{user_id}", session_id=session_id)
    if not done:
        return ctx.not_found(N_("That session was not found in your account."))
    if session_id == ctx.current.id:
        response = ctx.web.pages.render("message.html", heading=_("You have logged out"),
                                        message=_("You are no longer logged in to %(company)s.")
                                        % {"company": ctx.settings.company_name},
                                        link=ctx.web.path("/clientarea.php"), link_text=_("Log in again"))
        ctx.web.clear_cookie(response, SESSION_COOKIE)
        return response
    return ctx.redirect(PATH, ended=1)


@page
def sessions_page(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        return _post(ctx)
    with ctx.db.read() as s:
        found = sessions.active(s, ctx.current.user_id, ctx.current.id)
    rows = [{"id": d.id, "device": d.description, "ip": d.ip_address, "started": date(d.started, with_time=True),
             "last_seen": date(d.last_seen, with_time=True), "current": d.current, "two_factor": d.two_factor}
            for d in found]
    ended = ctx.arg("ended")
    return ctx.render("account/sessions.html", "sessions", sessions=rows,
                  ended=number(ended, 99_999),
                  others=sum(1 for r in rows if not r["current"]))
