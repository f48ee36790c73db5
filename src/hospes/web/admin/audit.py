"""The audit log, newest first: filters by event type, actor, target, customer, OAuth client, request id and date
range; paged, or exported as CSV (``?format=csv``, the same filters). Full admins only.

CSV: RFC 4180 quoting (the csv module), and a cell a spreadsheet would read as a formula (one that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's "CSV Injection") gets a leading apostrophe, as
an actor, a target or a detail may hold text a customer typed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from hospes import audit
from hospes.accounts.service import find_user_by_email
from hospes.clock import day, day_end, day_start, now
from hospes.i18n import N_, _
from hospes.store.models import AuditEvent
from hospes.web.admin.auth import Ctx, page
from hospes.web.admin.clients import page_number

PER_PAGE = 50
# An export's rows at most (read in batches of EXPORT_BATCH): a larger one is narrowed by its filters.
EXPORT_MAX = 100_000
EXPORT_BATCH = 1000
FILTERS = ("action", "actor", "target", "customer", "client", "request_id", "from", "to")
CSV_COLUMNS = ("at", "actor", "action", "target", "client_id", "ip_address", "request_id", "details")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP, CSV Injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(e: AuditEvent) -> list[str]:
    details = json.dumps(e.details or {}, ensure_ascii=False, sort_keys=True, default=str)
    cells = [e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.action, e.target, e.client_id or "", e.ip_address,
             e.request_id or "", details]
    return [safe_cell(c) for c in cells]


def _customer(s: Session, value: str) -> str | None:
    """A customer filter's user id: the number itself, or the user an email address names ("0" for none)."""
    value = value.removeprefix("user:")
    if value.isascii() and value.isdigit():
        return str(int(value))
    found = find_user_by_email(s, value)
    return str(found.id) if found is not None else "0"


@page("audit")
def index(ctx: Ctx) -> Response:
    filters = {name: ctx.arg(name)[:255].strip() for name in FILTERS}
    number = page_number(ctx)
    start = day(filters["from"]) if filters["from"] else None
    end = day(filters["to"]) if filters["to"] else None
    errors = [_(message) for key, message, parsed in
              (("from", N_("From must be a date such as 2024-05-31."), start),
               ("to", N_("To must be a date such as 2024-05-31."), end)) if filters[key] and parsed is None]
    # Dates are days in UTC, the timezone the log is kept and shown in; "to" takes in the whole day.
    since = day_start(start) if start else None
    until = day_end(end) if end else None
    export = ctx.arg("format") == "csv" and not errors

    def search(s: Session, limit: int, offset: int) -> list[AuditEvent]:
        customer = _customer(s, filters["customer"]) if filters["customer"] else None
        return audit.search(s, actor=filters["actor"] or None, action=filters["action"] or None,
                            target=filters["target"] or None, customer=customer, client=filters["client"] or None,
                            request_id=filters["request_id"] or None, since=since, until=until, limit=limit,
                            offset=offset)

    if export:
        return StreamingResponse(_csv(ctx, search), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="audit-{now():%Y%m%d-%H%M%S}.csv"'})
    with ctx.db.transaction() as s:
        known = audit.actions(s)
        rows = search(s, PER_PAGE + 1, (number - 1) * PER_PAGE)

    params = {k: v for k, v in filters.items() if v}

    def link(n: int) -> str:
        return ctx.path("/admin/audit") + "?" + urlencode({**params, "page": str(n)})

    return ctx.render("audit.html", status=400 if errors else 200, events=rows[:PER_PAGE], filters=filters,
                      actions=known, error=" ".join(errors) or None, page=number,
                      export=ctx.path("/admin/audit") + "?" + urlencode({**params, "format": "csv"}),
                      prev=link(number - 1) if number > 1 else None,
                      next=link(number + 1) if len(rows) > PER_PAGE else None)


def _csv(ctx: Ctx, search: Any) -> Iterator[str]:
    """The export, a batch at a time (each its own short transaction), newest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for offset in range(0, EXPORT_MAX, EXPORT_BATCH):
        with ctx.db.transaction() as s:
            batch = search(s, EXPORT_BATCH, offset)
            for e in batch:
                writer.writerow(csv_row(e))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(batch) < EXPORT_BATCH:
            break
