"""Resource servers of the operator's own (a control panel's API, a status page): list, add, edit, delete.

The rules and the audit entries are ``hospes.oauth.resources``' (the same the CLI and the admin API use); this
module maps the form onto them. The scopes are typed one a line, ``name = description``, in one text area:
no JavaScript is needed to add or remove one.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from hospes.i18n import N_, _
from hospes.oauth import resources
from hospes.oauth.resources import ResourceError, ResourceRow
from hospes.web.admin.auth import Ctx, page
from hospes.web.http import first

# The required acr's choices, in the admin's words (accounts/assurance.py: "1" password, "2" second factor).
ACR_CHOICES = (("", N_("None")), ("1", N_("A password login")), ("2", N_("A login with the second factor (step-up)")))
TOKEN_FORMATS = (("opaque", N_("Opaque (the resource server asks the introspection endpoint)")),
                 ("jwt", N_("JWT (RFC 9068: the resource server verifies it with the JWKS)")))
# The body is at most 64 KiB (web/http.py); a scopes field longer than this is refused, never cut short.
MAX_SCOPES_FIELD = 60_000


@dataclass
class ResourceForm:
    """What the add and edit forms hold, as typed."""

    identifier: str = ""
    name: str = ""
    token_format: str = "opaque"
    require_acr: str = ""
    scopes: str = ""

    @classmethod
    def from_post(cls, ctx: Ctx) -> ResourceForm:
        return cls(identifier=ctx.field("identifier"), name=ctx.field("name"),
                   token_format=ctx.field("token_format", "opaque"), require_acr=ctx.field("require_acr"),
                   scopes=first(ctx.form, "scopes") or "")

    @classmethod
    def from_row(cls, row: ResourceRow) -> ResourceForm:
        return cls(identifier=row.identifier, name=row.name, token_format=row.token_format,
                   require_acr=row.require_acr or "",
                   scopes="\n".join(f"{scope.name} = {scope.description}" for scope in row.scopes))

    def scope_pairs(self) -> list[tuple[str, str]]:
        """One ``name = description`` a line; blank lines are room to type."""
        if len(self.scopes) > MAX_SCOPES_FIELD:
            raise ResourceError(_("The scopes are too long."))
        pairs = []
        for number, line in enumerate(self.scopes.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, description = line.partition("=")
            if not sep:
                raise ResourceError(_("Scopes, line %(number)s: write the scope's name, =, and its description.")
                                    % {"number": number})
            pairs.append((name, description))
        return pairs


def _form_page(ctx: Ctx, form: ResourceForm, row: ResourceRow | None = None, *, status: int = 200,
               error: str | None = None, notice: str | None = None) -> Response:
    action = ctx.path(f"/admin/resources/{row.id}" if row else "/admin/resources/new")
    return ctx.render("resource_form.html", status=status, f=form, row=row, action=action, error=error,
                      notice=notice, acr_choices=ACR_CHOICES, token_formats=TOKEN_FORMATS)


@page("resources")
def index(ctx: Ctx) -> Response:
    with ctx.db.transaction() as s:
        rows = resources.every(s)
    notice = _("The resource server was deleted.") if ctx.arg("done") == "deleted" else None
    return ctx.render("resources.html", resources=rows, notice=notice)


@page("resources")
def new(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        return _form_page(ctx, ResourceForm())
    form = ResourceForm.from_post(ctx)
    try:
        with ctx.db.transaction() as s:
            row = resources.add(s, issuer=ctx.settings.issuer, identifier=form.identifier, name=form.name,
                                scopes=form.scope_pairs(), token_format=form.token_format,
                                require_acr=form.require_acr or None, actor=ctx.admin.actor, ip=ctx.ip)
    except ResourceError as exc:
        return _form_page(ctx, form, status=400, error=str(exc))
    return ctx.redirect(f"/admin/resources/{row.id}?done=added")


@page("resources")
def manage(ctx: Ctx) -> Response:
    """The edit form: everything but the identifier, which is what clients send (delete and add to change it)."""
    with ctx.db.transaction() as s:
        row = resources.get(s, ctx.path_int("id"))
    if row is None:
        return ctx.not_found(N_("That resource server was not found."))
    if ctx.request.method == "GET":
        done = ctx.arg("done")
        notice = {"added": _("The resource server was added."), "saved": _("Your changes were saved.")}.get(done)
        return _form_page(ctx, ResourceForm.from_row(row), row, notice=notice)
    form = ResourceForm.from_post(ctx)
    form.identifier = row.identifier
    try:
        with ctx.db.transaction() as s:
            resources.update(s, row.id, name=form.name, scopes=form.scope_pairs(), token_format=form.token_format,
                             require_acr=form.require_acr or None, actor=ctx.admin.actor, ip=ctx.ip)
    except ResourceError as exc:
        return _form_page(ctx, form, row, status=400, error=str(exc))
    return ctx.redirect(f"/admin/resources/{row.id}?done=saved")


@page("resources")
def delete(ctx: Ctx) -> Response:
    """GET: ask first. POST: the resource goes, and every grant given for it is revoked."""
    with ctx.db.transaction() as s:
        row = resources.get(s, ctx.path_int("id"))
        if row is None:
            return ctx.not_found(N_("That resource server was not found."))
        if ctx.request.method == "POST":
            resources.delete(s, row.id, actor=ctx.admin.actor, ip=ctx.ip)
            return ctx.redirect("/admin/resources?done=deleted")
    return ctx.render("confirm.html", heading=_("Delete resource server"), subject=f"{row.name} ({row.identifier})",
                      question=_("Every token issued for it stops working at once, and the grants given for it "
                                 "are revoked. This cannot be undone. Continue?"),
                      action=ctx.path(f"/admin/resources/{row.id}/delete"),
                      cancel=ctx.path(f"/admin/resources/{row.id}"), ok_label=_("Delete"), danger=True)
