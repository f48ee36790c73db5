"""A customer (a person who logs in) as support staff see them, at ``/admin/users/{id}``: the accounts they
reach, their connected applications and sessions with revoke, the second factor, the login throttle, a
password-reset link, their name and email. Admins with "Manage Clients".

Each button posts to ``/admin/users/{id}/{step}``; the rules and audit entries are
``hospes.accounts.support``'s, the same the person's own pages use (ending a session queues its back-channel
logout as the sessions page does).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.responses import Response

from hospes import mail
from hospes.accounts import support
from hospes.accounts.service import AccountError
from hospes.i18n import N_
from hospes.store.values import row_id
from hospes.web.admin.auth import Ctx, page

NOTICES = {
    "saved": N_("Your changes were saved."),
    "unchanged": N_("Nothing was changed."),
    "sessions": N_("Every session ended: the person is logged out everywhere, and the applications were told."),
    "session": N_("The session ended."),
    "revoked": N_("The application's access was revoked."),
    "second_factor": N_("Two-factor login is off: the next login asks for the password alone."),
    "unlocked": N_("The login is unlocked: the next attempt is checked at once."),
    "reset_sent": N_("A password-reset link was sent."),
    "reset_failed": N_("The password-reset link could not be sent: see the server's log for the mail error."),
    "verified": N_("The email address is marked as verified."),
}


def _page(ctx: Ctx, user_id: int, *, status: int = 200, error: str | None = None,
          typed: dict[str, str] | None = None) -> Response:
    with ctx.db.read() as s:
        found = support.customer(s, user_id)
    if found is None:
        return ctx.not_found(N_("That user was not found."))
    p = found.person
    form = typed or {"first_name": p.first_name, "last_name": p.last_name, "email": p.email}
    return ctx.render("customer.html", status=status, c=found, p=p, form=form, error=error,
                      notice=ctx.done_notice(NOTICES), locked_minutes=(found.locked_for + 59) // 60)


@page("clients")
def detail(ctx: Ctx) -> Response:
    """GET: the page. POST: the name and email."""
    user_id = ctx.path_int("id")
    if ctx.request.method == "GET":
        return _page(ctx, user_id)
    typed = {name: ctx.field(name) for name in ("first_name", "last_name", "email")}
    try:
        with ctx.db.transaction() as s:
            changed = support.update(s, user_id, **typed, actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _page(ctx, user_id, status=400, error=str(exc), typed=typed)
    return ctx.redirect(f"/admin/users/{user_id}?done={'saved' if changed else 'unchanged'}")


def _end_sessions(ctx: Ctx, s: Session, user_id: int) -> str:
    support.end_sessions(s, user_id, actor=ctx.admin.actor, ip=ctx.ip)
    return "sessions"


def _end_session(ctx: Ctx, s: Session, user_id: int) -> str | None:
    done = support.end_session(s, user_id, row_id(ctx.field("session")) or 0, actor=ctx.admin.actor, ip=ctx.ip)
    return "session" if done else None


def _revoke(ctx: Ctx, s: Session, user_id: int) -> str | None:
    done = support.revoke_app(s, user_id, row_id(ctx.field("app")) or 0, actor=ctx.admin.actor, ip=ctx.ip)
    return "revoked" if done is not None else None


def _second_factor(ctx: Ctx, s: Session, user_id: int) -> str:
    support.reset_second_factor(s, user_id, actor=ctx.admin.actor, ip=ctx.ip)
    return "second_factor"


def _unlock(ctx: Ctx, s: Session, user_id: int) -> str:
    support.unlock(s, user_id, actor=ctx.admin.actor, ip=ctx.ip)
    return "unlocked"


def _verify(ctx: Ctx, s: Session, user_id: int) -> str:
    support.mark_email_verified(s, user_id, actor=ctx.admin.actor, ip=ctx.ip)
    return "verified"


STEPS: dict[str, Callable[[Ctx, Session, int], str | None]] = {
    "end-sessions": _end_sessions,
    "end-session": _end_session,
    "revoke": _revoke,
    "second-factor-reset": _second_factor,
    "unlock": _unlock,
    "verify-email": _verify,
}


@page("clients")
def step(ctx: Ctx) -> Response:
    """One of the buttons (POST only). A session or application that is not this person's is a 404."""
    user_id, name = ctx.path_int("id"), ctx.request.path_params["step"]
    if name == "reset-link":
        return _reset_link(ctx, user_id)
    fn = STEPS.get(name)
    if fn is None:
        return ctx.not_found(N_("That page was not found."))
    try:
        with ctx.db.transaction() as s:
            done = fn(ctx, s, user_id)
    except AccountError:
        return ctx.not_found(N_("That user was not found."))
    if done is None:
        return ctx.not_found(N_("That session or application was not found."))
    return ctx.redirect(f"/admin/users/{user_id}?done={done}")


def _reset_link(ctx: Ctx, user_id: int) -> Response:
    try:
        with ctx.db.transaction() as s:
            made = support.send_reset_link(s, ctx.settings, user_id, actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _page(ctx, user_id, status=400, error=str(exc))
    # After the commit, so the link works when the mail arrives; here rather than in the background, so the
    # admin learns whether it was handed over.
    sent = mail.send(ctx.settings, made.mail)
    return ctx.redirect(f"/admin/users/{user_id}?done={'reset_sent' if sent else 'reset_failed'}")
