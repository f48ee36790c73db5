"""Passwords: ``/account/password`` (change, logged in) and the reset by mail, ``/password/reset`` (ask for a
link) and ``/password/reset/<token>`` (set a new password with it)."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes import audit, mail
from hospes.accounts import reset
from hospes.accounts.mailed_links import LinkMail
from hospes.accounts.passwords import MIN_LENGTH
from hospes.i18n import N_, _
from hospes.web.clientarea.gate import Ctx, page
from hospes.web.context import SESSION_COOKIE, Web, form_expired, web_of
from hospes.web.http import first, number, read_form

PATH = "/account/password"
# Said whether or not an account has the address (an attacker learns nothing from it).
SENT = N_("If an account exists for that address, we have sent a link to reset its password. It works for 30 minutes.")
LINK_GONE = N_("This password reset link has expired or has already been used.")


def _password_page(ctx: Ctx, *, status: int = 200, changed: int | None = None, error: str | None = None) -> Response:
    """The change form. Both outcomes are always passed: in Jinja an absent ``changed`` is undefined, and
    ``undefined is not none`` holds, which once showed the success notice beside every error."""
    return ctx.render("account/password.html", "password", status=status, min_length=MIN_LENGTH, changed=changed,
                      error=error)


@page
def change_password(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        changed = ctx.arg("changed")
        return _password_page(ctx, changed=number(changed, 99_999))
    error = None
    with ctx.db.transaction() as s:
        try:
            ended = reset.change(s, user_id=ctx.current.user_id, current=ctx.field("current_password"),
                                 new=ctx.field("new_password"), confirm=ctx.field("new_password_confirm"),
                                 keep_session_id=ctx.current.id)
        except reset.PasswordError as exc:
            # Committed all the same: a wrong current password is counted (throttle); nothing else changed.
            error = str(exc)
        else:
            ctx.audit(s, "user.password_changed", f"user:{ctx.current.user_id}", other_sessions_ended=ended)
    if error is not None:
        return _password_page(ctx, status=400, error=error)
    return ctx.redirect(PATH, changed=ended)


def _request(web: Web, email: str, ip: str) -> LinkMail | None:
    with web.provider.db.transaction() as s:
        made = reset.request(s, web.settings, email, ip)
        if made is not None:
            mail.record_history(s, made.user_id, made.mail, body=made.history_body)
            audit.record(s, actor=f"user:{made.user_id}", action="user.password_reset_requested",
                         target=f"user:{made.user_id}", ip=ip)
        return made


async def reset_request(request: Request) -> Response:
    """Ask for a reset link. The answer is the same whether or not the address has an account; the mail
    goes out after the answer (a background task), so the time taken does not tell either."""
    web = web_of(request)
    if request.method == "GET":
        return web.render_form(request, "account/reset_request.html", action=web.path("/password/reset"))
    form = await read_form(request, required=False)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    email = (first(form, "email") or "").strip()[:255]
    if not email:
        return web.render_form(request, "account/reset_request.html", status=400, action=web.path("/password/reset"),
                               error=_("Enter the email address of your account."))
    made = await run_in_threadpool(_request, web, email, web.ip(request))
    task = BackgroundTask(mail.send, web.settings, made.mail) if made is not None else None
    response = web.render_form(request, "account/reset_request.html", action=web.path("/password/reset"), sent=_(SENT))
    response.background = task
    return response


def _link_ok(web: Web, token: str) -> bool:
    with web.provider.db.read() as s:
        return reset.check_link(s, token)


def _complete(web: Web, token: str, new: str, confirm: str, ip: str) -> int:
    with web.provider.db.transaction() as s:
        user_id = reset.complete(s, token, new, confirm)
        audit.record(s, actor=f"user:{user_id}", action="user.password_reset", target=f"user:{user_id}", ip=ip)
        return user_id


def _gone(web: Web) -> Response:
    return web.pages.render("error.html", status=400, heading=_("This link no longer works"), message=_(LINK_GONE),
                            code="link_expired", hint=_("Ask for a new link on the password reset page."))


async def reset_form(request: Request) -> Response:
    """Set a new password with a reset link: every session of the user ends; then log in again."""
    web = web_of(request)
    token = request.path_params["token"]
    action = web.path("/password/reset/" + token)
    if request.method == "GET":
        if not await run_in_threadpool(_link_ok, web, token):
            return _gone(web)
        return web.render_form(request, "account/reset_form.html", action=action, min_length=MIN_LENGTH)
    form = await read_form(request, required=False)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    try:
        await run_in_threadpool(_complete, web, token, first(form, "new_password") or "",
                                first(form, "new_password_confirm") or "", web.ip(request))
    except reset.LinkInvalid:
        return _gone(web)
    except reset.PasswordError as exc:
        return web.render_form(request, "account/reset_form.html", status=400, action=action,
                               min_length=MIN_LENGTH, error=str(exc))
    response = web.pages.render("message.html", heading=_("Your password has been changed"),
                                message=_("You have been logged out everywhere. Log in with your new password."),
                                link=web.path("/login"), link_text=_("Log in"))
    web.clear_cookie(response, SESSION_COOKIE)
    return response
