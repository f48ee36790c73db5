"""Support tickets: ``/supporttickets.php`` lists them, ``/submitticket.php`` opens one (WHMCS's paths)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from hospes.store.models import Ticket
from hospes.web.clientarea.gate import Ctx, date, page, parse_id

SUBJECT_MAX = 255
MESSAGE_MAX = 20_000


@page
def supporttickets(ctx: Ctx) -> Response:
    opened = None
    with ctx.db.read() as s:
        rows = s.scalars(select(Ticket).where(Ticket.client_id == ctx.account.id).order_by(Ticket.id.desc())).all()
        tickets = [{"id": t.id, "subject": t.subject, "status": t.status, "opened": date(t.created_at, True)}
                   for t in rows]
    just = parse_id(ctx.arg("opened"))
    if just is not None:
        opened = next((t for t in tickets if t["id"] == just), None)
    return ctx.render("tickets.html", "tickets", tickets=tickets, opened=opened)


def check(subject: str, message: str) -> tuple[str, str, dict[str, str]]:
    """The ticket's subject and message as stored, and an error per field that needs fixing."""
    subject = subject.strip()
    # One line for the subject; the message keeps line breaks and tabs, and nothing else below space.
    message = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    problems: dict[str, str] = {}
    if not subject:
        problems["subject"] = "Enter a subject."
    elif len(subject) > SUBJECT_MAX:
        problems["subject"] = f"The subject must be at most {SUBJECT_MAX} characters."
    elif any(ord(c) < 32 or c == "\x7f" for c in subject):
        problems["subject"] = "The subject must be a single line of text."
    if not message:
        problems["message"] = "Enter a message."
    elif len(message) > MESSAGE_MAX:
        problems["message"] = f"The message must be at most {MESSAGE_MAX} characters."
    elif any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in message):
        problems["message"] = "The message contains characters that cannot be stored."
    return subject, message, problems


@page
def submitticket(ctx: Ctx) -> Response:
    if ctx.request.method != "POST":
        return ctx.render("submitticket.html", "submitticket", typed={"subject": "", "message": ""}, problems={})
    typed = {"subject": ctx.field("subject"), "message": ctx.field("message")}
    subject, message, problems = check(typed["subject"], typed["message"])
    if problems:
        return ctx.render("submitticket.html", "submitticket", status=400, typed=typed, problems=problems)
    with ctx.db.transaction() as s:
        ticket = Ticket(client_id=ctx.account.id, subject=subject, message=message, status="Open")
        s.add(ticket)
        s.flush()
        ctx.audit(s, "ticket.opened", f"client:{ctx.account.id}", ticket_id=ticket.id, subject=subject)
        ticket_id = ticket.id
    return ctx.redirect("/supporttickets.php", opened=ticket_id)
