"""Admins (staff): the list, add, and one admin's page with permissions, disable or enable, and a password reset.
Full admins only.

The rules and the audit entries are ``hospes.accounts.service.add_admin`` and ``hospes.accounts.staff``'s (the
CLI's ``hospes admins ...`` too). A new admin, and an admin whose password is reset, gets a temporary password
shown once, in the answer to the POST that made it: only its hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import Response

from hospes.accounts import staff
from hospes.accounts.service import ADMIN_PERMISSIONS, AccountError, add_admin
from hospes.accounts.staff import AdminRow
from hospes.i18n import N_, _
from hospes.web.admin.auth import Ctx, page

NOTICES = {
    "saved": N_("Your changes were saved."),
    "disabled": N_("The admin was disabled: their sessions have ended and they can no longer log in."),
    "enabled": N_("The admin was enabled: they can log in again."),
}


@dataclass
class AdminForm:
    """The add form and the permissions form: "full" (every permission, now and later) or the ones ticked."""

    username: str = ""
    email: str = ""
    full: bool = False
    permissions: list[str] = field(default_factory=list)

    @classmethod
    def from_post(cls, ctx: Ctx) -> AdminForm:
        return cls(username=ctx.field("username"), email=ctx.field("email"), full=ctx.field("role") == "full",
                   permissions=[p[:100] for p in ctx.form.get("permission", [])])

    @classmethod
    def from_row(cls, row: AdminRow) -> AdminForm:
        return cls(username=row.username, email=row.email, full=row.full, permissions=list(row.permissions))

    def chosen(self) -> list[str]:
        """The permissions to store: none for a full administrator."""
        if self.full:
            return []
        if not self.permissions:
            raise AccountError(_("Choose at least one permission, or make the admin a full administrator."))
        return self.permissions


def _list(ctx: Ctx, form: AdminForm | None = None, *, status: int = 200, error: str | None = None) -> Response:
    with ctx.db.read() as s:
        rows = staff.every(s)
    return ctx.render("admins.html", status=status, admins=rows, f=form or AdminForm(), error=error,
                      permissions=ADMIN_PERMISSIONS, notice=ctx.done_notice(NOTICES))


@page("admins")
def index(ctx: Ctx) -> Response:
    """GET: the list and the add form. POST: add an admin, whose temporary password is shown once."""
    if ctx.request.method == "GET":
        return _list(ctx)
    form = AdminForm.from_post(ctx)
    password = staff.temporary_password()
    try:
        with ctx.db.transaction() as s:
            admin_id = add_admin(s, username=form.username, email=form.email, password=password,
                                 permissions=form.chosen(), actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _list(ctx, form, status=400, error=str(exc))
    return ctx.render("admin_password.html", status=201, heading=_("Admin added"), username=form.username.strip(),
                      password=password, admin_id=admin_id)


def _detail(ctx: Ctx, row: AdminRow, form: AdminForm | None = None, *, status: int = 200,
            error: str | None = None) -> Response:
    return ctx.render("admin_detail.html", status=status, row=row, f=form or AdminForm.from_row(row), error=error,
                      permissions=ADMIN_PERMISSIONS, notice=ctx.done_notice(NOTICES),
                      is_self=row.id == ctx.admin.id)


@page("admins")
def detail(ctx: Ctx) -> Response:
    """GET: the admin's page. POST: their permissions."""
    with ctx.db.read() as s:
        row = staff.get(s, ctx.path_int("id"))
    if row is None:
        return ctx.not_found(N_("That admin was not found."))
    if ctx.request.method == "GET":
        return _detail(ctx, row)
    form = AdminForm.from_post(ctx)
    try:
        with ctx.db.transaction() as s:
            staff.set_permissions(s, row.id, form.chosen(), actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _detail(ctx, row, form, status=400, error=str(exc))
    return ctx.redirect(f"/admin/admins/{row.id}?done=saved")


def _set_disabled(ctx: Ctx, disabled: bool) -> Response:
    with ctx.db.read() as s:
        row = staff.get(s, ctx.path_int("id"))
    if row is None:
        return ctx.not_found(N_("That admin was not found."))
    try:
        with ctx.db.transaction() as s:
            staff.set_disabled(s, row.id, disabled, actor=ctx.admin.actor, ip=ctx.ip)
    except AccountError as exc:
        return _detail(ctx, row, status=400, error=str(exc))
    return ctx.redirect(f"/admin/admins/{row.id}?done={'disabled' if disabled else 'enabled'}")


@page("admins")
def disable(ctx: Ctx) -> Response:
    return _set_disabled(ctx, True)


@page("admins")
def enable(ctx: Ctx) -> Response:
    return _set_disabled(ctx, False)


@page("admins")
def reset_password(ctx: Ctx) -> Response:
    """GET: ask first. POST: a temporary password, shown once; every session of theirs ends."""
    with ctx.db.read() as s:
        row = staff.get(s, ctx.path_int("id"))
    if row is None:
        return ctx.not_found(N_("That admin was not found."))
    if ctx.request.method == "GET":
        return ctx.render("confirm.html", heading=_("Reset password"), subject=row.username,
                          question=_("Their current password stops working and every session of theirs ends. "
                                     "You will see a temporary password once, to give them. Continue?"),
                          action=ctx.path(f"/admin/admins/{row.id}/password"),
                          cancel=ctx.path(f"/admin/admins/{row.id}"), ok_label=_("Reset password"), danger=True)
    with ctx.db.transaction() as s:
        password = staff.reset_password(s, row.id, actor=ctx.admin.actor, ip=ctx.ip)
    return ctx.render("admin_password.html", heading=_("Password reset"), username=row.username, password=password,
                      admin_id=row.id)
