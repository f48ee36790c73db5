"""The audit log, newest first, with filters by actor, action, target and date range. Full admins only."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from hospes import audit
from hospes.clock import day, day_end, day_start
from hospes.web.admin.auth import Ctx, page
from hospes.web.admin.clients import page_number

PER_PAGE = 50


@page("audit")
def index(ctx: Ctx) -> Response:
    filters = {name: ctx.arg(name)[:255].strip() for name in ("actor", "action", "target", "from", "to")}
    number = page_number(ctx)
    start = day(filters["from"]) if filters["from"] else None
    end = day(filters["to"]) if filters["to"] else None
    errors = [f"{label} must be a date such as 2024-05-31." for key, label, parsed in
              (("from", "From", start), ("to", "To", end)) if filters[key] and parsed is None]
    # Dates are days in UTC, the timezone the log is kept and shown in; "to" takes in the whole day.
    since = day_start(start) if start else None
    until = day_end(end) if end else None
    with ctx.db.transaction() as s:
        known = audit.actions(s)
        rows = audit.search(s, actor=filters["actor"] or None, action=filters["action"] or None,
                            target=filters["target"] or None, since=since, until=until, limit=PER_PAGE + 1,
                            offset=(number - 1) * PER_PAGE)

    def link(n: int) -> str:
        params = {k: v for k, v in filters.items() if v}
        params["page"] = str(n)
        return ctx.path("/admin/audit") + "?" + urlencode(params)

    return ctx.render("audit.html", status=400 if errors else 200, events=rows[:PER_PAGE], filters=filters,
                      actions=known, error=" ".join(errors) or None, page=number,
                      prev=link(number - 1) if number > 1 else None,
                      next=link(number + 1) if len(rows) > PER_PAGE else None)
