"""Clients: list and search, and one client's page with its status, the "Allow Single Sign-On" switch,
its users and its services. Changes go through ``hospes.accounts.service.update_client``, the operation the
admin API's UpdateClient uses: status Closed closes the account as CloseClient does, and the operation records
the audit entries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, or_, select
from starlette.responses import Response

from hospes.accounts import service
from hospes.accounts.service import CLIENT_STATUSES, AccountError
from hospes.store.models import ClientAccount, Service, User, UserClient
from hospes.web.admin.auth import Ctx, page

PER_PAGE = 25


def page_number(ctx: Ctx) -> int:
    value = ctx.arg("page", "1")
    return max(1, min(int(value), 100_000)) if value.isdigit() else 1


def _search(q: str, status: str) -> Select:
    stmt = select(ClientAccount, User).outerjoin(User, User.id == ClientAccount.owner_user_id)
    if status in CLIENT_STATUSES:
        stmt = stmt.where(ClientAccount.status == status)
    q = q.strip().lower()
    if q:
        terms = [func.lower(col).contains(q, autoescape=True)
                 for col in (User.email, User.first_name, User.last_name, ClientAccount.company_name,
                             User.first_name + " " + User.last_name)]
        if q.isdigit() and len(q) < 10:
            terms.append(ClientAccount.id == int(q))
        stmt = stmt.where(or_(*terms))
    return stmt


@page("clients")
def index(ctx: Ctx) -> Response:
    q, status, number = ctx.arg("q")[:200], ctx.arg("status"), page_number(ctx)
    stmt = _search(q, status)
    with ctx.db.transaction() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.execute(stmt.order_by(ClientAccount.id.desc()).limit(PER_PAGE).offset((number - 1) * PER_PAGE)).all()

    def link(n: int) -> str:
        params = {k: v for k, v in (("q", q), ("status", status), ("page", str(n))) if v}
        return ctx.path("/admin/clients") + "?" + urlencode(params)

    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return ctx.render("clients.html", rows=rows, q=q, status_filter=status, statuses=CLIENT_STATUSES, total=total,
                      page=number, pages=pages, prev=link(number - 1) if number > 1 else None,
                      next=link(number + 1) if number < pages else None)


def _detail(ctx: Ctx, client_id: int, *, status: int = 200, error: str | None = None,
            notice: str | None = None, typed: dict[str, Any] | None = None) -> Response:
    with ctx.db.transaction() as s:
        client = s.get(ClientAccount, client_id)
        if client is None:
            return ctx.not_found("That client")
        owner = s.get(User, client.owner_user_id) if client.owner_user_id else None
        users = s.execute(select(User, UserClient.role).join(UserClient, UserClient.user_id == User.id)
                          .where(UserClient.client_id == client.id).order_by(User.id)).all()
        services = list(s.scalars(select(Service).where(Service.client_id == client.id).order_by(Service.id)))
    form = typed or {"status": client.status, "allow_sso": client.allow_sso}
    return ctx.render("client.html", status=status, client=client, owner=owner, users=users, services=services,
                      statuses=CLIENT_STATUSES, form=form, error=error, notice=notice,
                      action=ctx.path(f"/admin/clients/{client.id}"))


@page("clients")
def detail(ctx: Ctx) -> Response:
    client_id = ctx.path_int("id")
    if ctx.request.method == "GET":
        return _detail(ctx, client_id, notice="Your changes were saved." if ctx.arg("done") == "saved" else None)
    new_status = ctx.field("status")
    allow_sso = bool(ctx.field("allow_sso"))
    try:
        with ctx.db.transaction() as s:
            client = s.get(ClientAccount, client_id)
            if client is None:
                return ctx.not_found("That client")
            service.update_client(s, client, status=new_status, allow_sso=allow_sso, actor=ctx.admin.actor,
                                  ip=ctx.ip)
    except AccountError as exc:
        return _detail(ctx, client_id, status=400, error=str(exc),
                       typed={"status": new_status, "allow_sso": allow_sso})
    return ctx.redirect(f"/admin/clients/{client_id}?done=saved")
