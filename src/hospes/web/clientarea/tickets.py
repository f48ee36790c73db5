"""Support tickets: ``/supporttickets.php`` lists them, ``/submitticket.php`` opens one (WHMCS's paths)."""

from __future__ import annotations

from starlette.responses import Response

from hospes.accounts import reach, tickets
from hospes.store import records
from hospes.store.values import row_id
from hospes.web.clientarea.gate import Ctx, date, page


@page
def supporttickets(ctx: Ctx) -> Response:
    if not ctx.may(reach.TICKETS):
        return ctx.not_allowed(reach.TICKETS)
    opened = None
    with ctx.db.read() as s:
        rows = records.tickets(s, ctx.account.id)
    listed = [{"id": t.id, "subject": t.subject, "status": t.status, "opened": date(t.created_at, True)}
               for t in rows]
    just = row_id(ctx.arg("opened"))
    if just is not None:
        opened = next((t for t in listed if t["id"] == just), None)
    return ctx.render("tickets.html", "tickets", tickets=listed, opened=opened)


@page
def submitticket(ctx: Ctx) -> Response:
    if not ctx.may(reach.TICKETS):
        return ctx.not_allowed(reach.TICKETS)
    if ctx.request.method != "POST":
        return ctx.render("submitticket.html", "submitticket", typed={"subject": "", "message": ""}, problems={})
    typed = {"subject": ctx.field("subject"), "message": ctx.field("message")}
    subject, message, problems = tickets.check_ticket(typed["subject"], typed["message"])
    if problems:
        return ctx.render("submitticket.html", "submitticket", status=400, typed=typed, problems=problems)
    with ctx.db.transaction() as s:
        ticket_id = tickets.open_ticket(s, ctx.account.id, subject=subject, message=message, actor=ctx.actor,
                                        ip=ctx.ip)
    return ctx.redirect("/supporttickets.php", opened=ticket_id)
