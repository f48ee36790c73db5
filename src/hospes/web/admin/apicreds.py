"""API roles and API credentials (WHMCS "Manage API Credentials"): list, create, revoke a credential; create,
edit and delete a role. Full admins only.

The rules and the audit entries are ``hospes.adminapi.credentials``' (the CLI's too). An API secret is shown
once, in the answer to the POST that made it, and is stored only as a salted hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

import hospes.adminapi.commands  # noqa: F401  (registers the commands, so their names can be offered)
from hospes.adminapi import credentials as apicreds
from hospes.adminapi.credentials import ApiCredentialError
from hospes.adminapi.dispatch import COMMANDS
from hospes.i18n import N_, _, ngettext
from hospes.web.admin.auth import Ctx, page

NOTICES = {
    "role": N_("The API role was created."),
    "role_saved": N_("The API role was saved: credentials holding it get its actions at their next call."),
    "role_deleted": N_("The API role was deleted."),
    "revoked": N_("The API credential was revoked: it no longer works."),
}


@dataclass
class RoleForm:
    name: str = ""
    description: str = ""
    all_actions: bool = False
    actions: list[str] = field(default_factory=list)
    other_actions: str = ""

    @classmethod
    def from_post(cls, ctx: Ctx) -> RoleForm:
        return cls(name=ctx.field("name"), description=ctx.field("description"),
                   all_actions=bool(ctx.field("all_actions")), actions=[a[:64] for a in ctx.form.get("action", [])],
                   other_actions=ctx.field("other_actions"))

    @classmethod
    def from_row(cls, row: apicreds.ApiRoleRow) -> RoleForm:
        """The stored actions (lower case) ticked under the commands' own spelling; others typed."""
        known = {c.lower(): c for c in COMMANDS}
        ticked = [known[a] for a in row.actions if a in known]
        return cls(name=row.name, description=row.description, all_actions=row.all_actions, actions=ticked,
                   other_actions=" ".join(a for a in row.actions if a not in known))

    def action_list(self) -> list[str]:
        typed = [a for a in re.split(r"[\s,]+", self.other_actions) if a]
        return list(dict.fromkeys(self.actions + typed))


@dataclass
class CredentialForm:
    admin: str = ""
    roles: list[str] = field(default_factory=list)
    description: str = ""

    @classmethod
    def from_post(cls, ctx: Ctx) -> CredentialForm:
        return cls(admin=ctx.field("admin"), roles=[r[:100] for r in ctx.form.get("role", [])],
                   description=ctx.field("description"))


def _overview(s: Session) -> dict[str, Any]:
    creds = [{"row": c, "admin": c.admin, "roles": list(c.roles)} for c in apicreds.list_credentials(s)]
    return {"roles": apicreds.list_roles(s), "api_credentials": creds, "admins": apicreds.api_admins(s),
            "commands": sorted(COMMANDS)}


def _page(ctx: Ctx, *, status: int = 200, role_form: RoleForm | None = None,
          cred_form: CredentialForm | None = None, role_error: str | None = None, cred_error: str | None = None,
          notice: str | None = None) -> Response:
    with ctx.db.transaction() as s:
        data = _overview(s)
    return ctx.render("api.html", status=status, rf=role_form or RoleForm(), cf=cred_form or CredentialForm(),
                      role_error=role_error, cred_error=cred_error, notice=notice, **data)


@page("api")
def index(ctx: Ctx) -> Response:
    return _page(ctx, notice=ctx.done_notice(NOTICES))


@page("api")
def create_role(ctx: Ctx) -> Response:
    form = RoleForm.from_post(ctx)
    actions = form.action_list()
    try:
        with ctx.db.transaction() as s:
            apicreds.create_role(s, name=form.name, actions=actions, all_actions=form.all_actions,
                                 description=form.description, actor=ctx.admin.actor, ip=ctx.ip)
    except ApiCredentialError as exc:
        return _page(ctx, status=400, role_form=form, role_error=str(exc))
    return ctx.redirect("/admin/api?done=role")


@page("api")
def create_credential(ctx: Ctx) -> Response:
    form = CredentialForm.from_post(ctx)
    try:
        with ctx.db.transaction() as s:
            owner = apicreds.api_admin(s, form.admin)
            if owner is None:
                raise ApiCredentialError(_("Choose an admin who holds the API Access permission."))
            made = apicreds.create_credential(s, admin_username=owner, roles=form.roles,
                                              description=form.description.strip(), actor=ctx.admin.actor,
                                              ip=ctx.ip)
    except ApiCredentialError as exc:
        return _page(ctx, status=400, cred_form=form, cred_error=str(exc))
    # Rendered from the POST itself: the secret travels in this one answer (no-store) and nowhere else.
    return ctx.render("api_created.html", status=201, identifier=made.identifier, secret=made.secret,
                      owner=owner, roles=form.roles)


@page("api")
def revoke(ctx: Ctx) -> Response:
    """GET: ask first. POST: the credential stops working at once."""
    with ctx.db.transaction() as s:
        cred = apicreds.get_credential(s, ctx.path_int("id"))
        if cred is None:
            return ctx.not_found(N_("That API credential was not found."))
        if ctx.request.method == "GET":
            if cred.revoked_at is not None:
                return ctx.redirect("/admin/api?done=revoked")
            return ctx.render(
                "confirm.html", heading=_("Revoke API credential"), subject=cred.identifier,
                question=_("Scripts using this API credential stop working at once. This cannot be undone. Continue?"),
                action=ctx.path(f"/admin/api/credentials/{cred.id}/revoke"), cancel=ctx.path("/admin/api"),
                ok_label=_("Revoke"), danger=True)
        apicreds.revoke_credential(s, cred.id, actor=ctx.admin.actor, ip=ctx.ip)
    return ctx.redirect("/admin/api?done=revoked")


def _role_page(ctx: Ctx, role: apicreds.ApiRoleRow, form: RoleForm | None = None, *, status: int = 200,
               error: str | None = None) -> Response:
    return ctx.render("api_role.html", status=status, role=role, rf=form or RoleForm.from_row(role), error=error,
                      commands=sorted(COMMANDS))


def _get_role(ctx: Ctx) -> apicreds.ApiRoleRow | None:
    with ctx.db.read() as s:
        return apicreds.get_role(s, ctx.path_int("id"))


@page("api")
def edit_role(ctx: Ctx) -> Response:
    """GET: the role's form. POST: save it (the rules are create_role's)."""
    role = _get_role(ctx)
    if role is None:
        return ctx.not_found(N_("That API role was not found."))
    if ctx.request.method == "GET":
        return _role_page(ctx, role)
    form = RoleForm.from_post(ctx)
    try:
        with ctx.db.transaction() as s:
            apicreds.update_role(s, role.id, name=form.name, actions=form.action_list(), all_actions=form.all_actions,
                                 description=form.description, actor=ctx.admin.actor, ip=ctx.ip)
    except ApiCredentialError as exc:
        return _role_page(ctx, role, form, status=400, error=str(exc))
    return ctx.redirect("/admin/api?done=role_saved")


@page("api")
def delete_role(ctx: Ctx) -> Response:
    """GET: ask first, naming the credentials that hold it. POST: delete it."""
    role = _get_role(ctx)
    if role is None:
        return ctx.not_found(N_("That API role was not found."))
    if ctx.request.method == "GET":
        with ctx.db.read() as s:
            holders = apicreds.role_holders(s, role.id)
        question = (ngettext("Delete this role? %(n)d API credential holds it and loses its actions at once. "
                             "This cannot be undone. Continue?",
                             "Delete this role? %(n)d API credentials hold it and lose its actions at once. "
                             "This cannot be undone. Continue?", len(holders)) % {"n": len(holders)}
                    if holders else _("Delete this role? This cannot be undone. Continue?"))
        return ctx.render("confirm.html", heading=_("Delete API role"), subject=role.name, question=question,
                          action=ctx.path(f"/admin/api/roles/{role.id}/delete"),
                          cancel=ctx.path(f"/admin/api/roles/{role.id}"), ok_label=_("Delete"), danger=True)
    with ctx.db.transaction() as s:
        apicreds.delete_role(s, role.id, actor=ctx.admin.actor, ip=ctx.ip)
    return ctx.redirect("/admin/api?done=role_deleted")
