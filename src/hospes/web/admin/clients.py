"""Clients: list and search, and one client's page with its status, the "Allow Single Sign-On" switch,
its users and its services. Changes go through ``hospes.accounts.service.update_client``, the operation the
admin API's UpdateClient uses: status Closed closes the account as CloseClient does, and the operation records
the audit entries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from hospes.accounts import service
from hospes.accounts.service import CLIENT_STATUSES, AccountError
from hospes.i18n import N_, _
from hospes.store import accounts
from hospes.web.admin.auth import Ctx, page
from hospes.web.http import number

PER_PAGE = 25


def page_number(ctx: Ctx) -> int:
    return max(1, number(ctx.arg("page", "1"), 100_000) or 1)


@page("clients")
def index(ctx: Ctx) -> Response:
    q, status, number = ctx.arg("q")[:200], ctx.arg("status"), page_number(ctx)
    with ctx.db.transaction() as s:
        found = accounts.search_clients(s, query=q, status=status, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    total = found.total

    def link(n: int) -> str:
        params = {k: v for k, v in (("q", q), ("status", status), ("page", str(n))) if v}
        return ctx.path("/admin/clients") + "?" + urlencode(params)

    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return ctx.render("clients.html", rows=found.rows, q=q, status_filter=status, statuses=CLIENT_STATUSES,
                      total=total, page=number, pages=pages, prev=link(number - 1) if number > 1 else None,
                      next=link(number + 1) if number < pages else None)


def _detail(ctx: Ctx, client_id: int, *, status: int = 200, error: str | None = None,
            notice: str | None = None, typed: dict[str, Any] | None = None) -> Response:
    with ctx.db.transaction() as s:
        found = accounts.client_detail(s, client_id)
    if found is None:
        return ctx.not_found(N_("That client was not found."))
    client = found.client
    form = typed or {"status": client.status, "allow_sso": client.allow_sso}
    return ctx.render("client.html", status=status, client=client, owner=found.owner, users=found.users,
                      services=found.services, statuses=CLIENT_STATUSES, form=form, error=error, notice=notice,
                      action=ctx.path(f"/admin/clients/{client.id}"))


@page("clients")
def detail(ctx: Ctx) -> Response:
    client_id = ctx.path_int("id")
    if ctx.request.method == "GET":
        return _detail(ctx, client_id, notice=_("Your changes were saved.") if ctx.arg("done") == "saved" else None)
    new_status = ctx.field("status")
    allow_sso = bool(ctx.field("allow_sso"))
    try:
        with ctx.db.transaction() as s:
            if accounts.client_account(s, client_id) is None:
                return ctx.not_found(N_("That client was not found."))
            service.update_client(s, service.get_client(s, client_id), status=new_status, allow_sso=allow_sso,
                                  actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _detail(ctx, client_id, status=400, error=str(exc),
                       typed={"status": new_status, "allow_sso": allow_sso})
    return ctx.redirect(f"/admin/clients/{client_id}?done=saved")
