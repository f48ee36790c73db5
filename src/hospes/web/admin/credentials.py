"""OpenID Connect: client API credentials by hand (WHMCS's "OpenID Connect" admin page,
https://docs.whmcs.com/OpenID_Connect).

The rules and the audit entries are ``hospes.oauth.credentials``' (the same the API and the CLI use); this
module maps the form onto them. A client secret is shown once, in the answer to the POST that made it, and never stored.
The redirect URI rows work without JavaScript: "Add Another" and "Remove" are submit buttons that send
the form back, and the page comes back with one row more or less and everything typed kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

from hospes.accounts.service import MANAGE_SSO
from hospes.i18n import N_, _
from hospes.oauth import backchannel, credentials, resources
from hospes.oauth import scopes as scope_table
from hospes.oauth.credentials import CredentialError, CredentialRow
from hospes.oauth.keys import SUPPORTED_ALGS
from hospes.web.admin.auth import Ctx, page
from hospes.web.http import number

# The scopes an OpenID Connect relying party asks for and the customer API's; others already on a credential
# are shown too.
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
OFFERED_SCOPES = OIDC_SCOPES + scope_table.API_SCOPES
DEFAULT_SCOPES = ("openid", "profile", "email")
RESET_QUESTION = N_("The previous secret will immediately become invalid. Continue?")
# When the application gets refresh tokens (credentials.REFRESH_POLICIES), in the admin's words.
REFRESH_CHOICES = (("offline_access", N_("When it asks for offline_access (and the customer agrees)")),
                   ("always", N_("Always")), ("never", N_("Never")))
# The grant types the form offers (single sign-on credentials are made for a service, from the client's page or
# by Application Links), in the admin's words.
GRANT_CHOICES = (
    (credentials.AUTHORIZATION_CODE, N_("Authorization code: a person logs in and approves (web, mobile)")),
    (credentials.DEVICE_CODE, N_("Device authorization: a person approves on another screen (RFC 8628)")),
    (credentials.CLIENT_CREDENTIALS, N_("Client credentials: a machine acting for itself (RFC 6749 §4.4)")),
    (credentials.TOKEN_EXCHANGE, N_("Token exchange: narrows a person's token for an agent (RFC 8693)")))
# How a confidential client authenticates at the token endpoint (RFC 7591 §2; RFC 7523 for the JWT ones).
AUTH_CHOICES = (("client_secret_basic", N_("Client secret in HTTP Basic (client_secret_basic)")),
                ("client_secret_post", N_("Client secret in the form (client_secret_post)")),
                ("client_secret_jwt", N_("A JWT signed with the client secret (client_secret_jwt)")),
                ("private_key_jwt", N_("A JWT signed with the client's own key (private_key_jwt)")))


@dataclass
class CredentialForm:
    """What the create and manage forms hold, as typed."""

    name: str = ""
    description: str = ""
    logo_uri: str = ""
    redirect_uris: list[str] = field(default_factory=lambda: [""])
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    # RFC 9126 §6: the application's authorization requests must be pushed (oauth/par.py).
    require_par: bool = False
    public: bool = False  # chosen when the credential is made; a public client has no secret and must use PKCE
    post_logout_redirect_uris: str = ""  # one a line
    refresh_token_policy: str = "offline_access"
    id_token_alg: str = "RS256"
    grant_types: list[str] = field(default_factory=lambda: [credentials.AUTHORIZATION_CODE])
    token_endpoint_auth_method: str = "client_secret_basic"
    jwks_uri: str = ""
    jwks: str = ""  # a JWK Set as JSON; empty: none (or, editing, keep what is registered)
    dpop_bound: bool = False

    @classmethod
    def from_post(cls, ctx: Ctx) -> CredentialForm:
        rows = [u[:credentials.MAX_URI_LENGTH + 1] for u in ctx.form.get("redirect_uri", [])]
        return cls(name=ctx.field("name"), description=ctx.field("description"), logo_uri=ctx.field("logo_uri"),
                   redirect_uris=rows or [""], scopes=[v[:100] for v in ctx.form.get("scope", [])],
                   backchannel_logout_uri=ctx.field("backchannel_logout_uri"),
                   backchannel_logout_session_required=ctx.field("backchannel_logout_session_required") == "yes",
                   require_par=ctx.field("require_par") == "yes",
                   public=ctx.field("public") == "yes",
                   post_logout_redirect_uris=ctx.field("post_logout_redirect_uris"),
                   refresh_token_policy=ctx.field("refresh_token_policy", "offline_access"),
                   id_token_alg=ctx.field("id_token_alg", "RS256"),
                   grant_types=[v[:100] for v in ctx.form.get("grant_type", [])[:10]],
                   token_endpoint_auth_method=ctx.field("token_endpoint_auth_method", "client_secret_basic"),
                   jwks_uri=ctx.field("jwks_uri"), jwks=ctx.field("jwks"), dpop_bound=ctx.field("dpop_bound") == "yes")

    @classmethod
    def from_credential(cls, cred: CredentialRow) -> CredentialForm:
        return cls(name=cred.name, description=cred.description, logo_uri=cred.logo_uri,
                   redirect_uris=list(cred.redirect_uris or []) or [""], scopes=scope_table.parse(cred.scope),
                   backchannel_logout_uri=cred.backchannel_logout_uri,
                   backchannel_logout_session_required=cred.backchannel_logout_session_required,
                   require_par=cred.require_par,
                   public=cred.public, post_logout_redirect_uris="\n".join(cred.post_logout_redirect_uris),
                   refresh_token_policy=cred.refresh_token_policy, id_token_alg=cred.id_token_signed_response_alg,
                   grant_types=sorted(cred.grant_types), token_endpoint_auth_method=cred.token_endpoint_auth_method,
                   jwks_uri=cred.jwks_uri, dpop_bound=cred.dpop_bound)

    def grant_type_value(self) -> list[str]:
        """The grant types ticked; refresh_token is implied by the refresh policy, as before."""
        return self.grant_types or [credentials.AUTHORIZATION_CODE]

    def auth_method(self) -> str | None:
        """The token endpoint authentication method, for a confidential client (a public one has none)."""
        return None if self.public else self.token_endpoint_auth_method

    def post_logout_uris(self) -> list[str]:
        """One a line; blank lines are room to type (credentials.redirect_uri_list checks each)."""
        return [u.strip() for u in self.post_logout_redirect_uris.splitlines() if u.strip()]

    def edit_rows(self, op: str) -> bool:
        """Apply "Add Another" or "Remove"; True when the form is to be shown again rather than saved."""
        if op == "add":
            if len(self.redirect_uris) < credentials.MAX_REDIRECT_URIS:
                self.redirect_uris.append("")
            return True
        if op.startswith("remove:"):
            index = number(op.removeprefix("remove:"), len(self.redirect_uris) - 1)
            if index is not None:
                del self.redirect_uris[index]
            self.redirect_uris = self.redirect_uris or [""]
            return True
        return False

    def uris(self) -> list[str]:
        """The rows that hold something (empty rows are only room to type)."""
        return [u.strip() for u in self.redirect_uris if u.strip()]

    def scope(self) -> str:
        return scope_table.join(scope_table.parse(" ".join(self.scopes)))

    def scope_options(self, defined: dict[str, str]) -> list[tuple[str, str]]:
        """Hospes's scopes, then those of the operator's resource servers (``defined``: name -> words), then
        any other already on the credential."""
        offered = list(OFFERED_SCOPES) + list(defined)
        names = offered + [s for s in self.scopes if s not in offered]
        words = {**defined, **{name: scope.description for name, scope in scope_table.SCOPES.items()}}
        return [(n, words.get(n, "")) for n in names]


def _resource_scopes(ctx: Ctx) -> dict[str, str]:
    """The scopes the operator's resource servers define, each with its words and its resource's name."""
    with ctx.db.read() as s:
        return {scope.name: f"{scope.description} ({row.name})" for row in resources.every(s) for scope in row.scopes}


def _key_fields(cred: CredentialRow, form: CredentialForm) -> dict[str, Any]:
    """How the client authenticates, as the manage form changes it: a public client stays public
    (credentials.update_credential); the registered keys stay unless new ones are pasted."""
    fields: dict[str, Any] = {"jwks_uri": form.jwks_uri}
    if not cred.public:
        fields["token_endpoint_auth_method"] = form.token_endpoint_auth_method
    if form.jwks.strip():
        fields["jwks"] = form.jwks
    return fields


def _choices() -> dict[str, object]:
    return {"refresh_choices": REFRESH_CHOICES, "id_token_algs": SUPPORTED_ALGS, "grant_choices": GRANT_CHOICES,
            "auth_choices": AUTH_CHOICES}


def _form_page(ctx: Ctx, form: CredentialForm, *, status: int = 200, error: str | None = None) -> Response:
    return ctx.render("oauth_new.html", status=status, f=form, scope_options=form.scope_options(_resource_scopes(ctx)),
                      error=error, action=ctx.path("/admin/oauth/new"), creating=True, **_choices())


def _manage_page(ctx: Ctx, cred: CredentialRow, form: CredentialForm | None = None, *, status: int = 200,
                 secret: str | None = None, error: str | None = None, notice: str | None = None) -> Response:
    form = form or CredentialForm.from_credential(cred)
    with ctx.db.read() as s:
        deliveries = backchannel.recent_deliveries(s, cred.id)
        used = credentials.usage(s, cred.id)
    return ctx.render("oauth_manage.html", status=status, cred=cred, f=form, deliveries=deliveries, usage=used,
                      scope_options=form.scope_options(_resource_scopes(ctx)),
                      secret=secret, public=cred.public, error=error, notice=notice,
                      action=ctx.path(f"/admin/oauth/{cred.id}"), **_choices())


def _may_see(ctx: Ctx, cred: CredentialRow) -> bool:
    """A single_sign_on credential signs a person in: only an admin with "Manage Single Sign-On" sees it, and
    so may reset its secret, edit or delete it (least privilege, RFC 9700 §2.3)."""
    return "single_sign_on" not in cred.grant_types or ctx.admin.has(MANAGE_SSO)


def _load(s: Session, ctx: Ctx) -> CredentialRow | None:
    """The credential the path names; None (a 404) when there is none, or when this admin may not see it."""
    cred = credentials.get_credential(s, ctx.path_int("id"))
    return cred if cred is not None and _may_see(ctx, cred) else None


@page("oidc")
def index(ctx: Ctx) -> Response:
    with ctx.db.transaction() as s:
        rows = [cred for cred in credentials.credential_rows(s) if _may_see(ctx, cred)]
    notice = _("The credential was deleted.") if ctx.arg("done") == "deleted" else None
    return ctx.render("oauth_list.html", credentials=rows, notice=notice)


@page("oidc")
def new(ctx: Ctx) -> Response:
    """The create form; "Generate Credentials" makes the credential and shows its secret once."""
    if ctx.request.method == "GET":
        return _form_page(ctx, CredentialForm())
    form = CredentialForm.from_post(ctx)
    if form.edit_rows(ctx.field("op")):
        return _form_page(ctx, form)
    try:
        with ctx.db.transaction() as s:
            made = credentials.create(
                s, grant_type=form.grant_type_value(), scope=form.scope(), name=form.name,
                description=form.description, logo_uri=form.logo_uri, redirect_uris=form.uris(),
                company=ctx.settings.company_name, actor=ctx.admin.actor, ip=ctx.ip,
                backchannel_logout_uri=form.backchannel_logout_uri,
                backchannel_logout_session_required=form.backchannel_logout_session_required,
                require_par=form.require_par,
                public=form.public, post_logout_redirect_uris=form.post_logout_uris(),
                refresh_token_policy=form.refresh_token_policy, id_token_signed_response_alg=form.id_token_alg,
                token_endpoint_auth_method=form.auth_method(), jwks_uri=form.jwks_uri or None,
                jwks=form.jwks or None, dpop_bound=form.dpop_bound, secret_key=ctx.web.provider.secret_key,
            )
            cred = credentials.get_credential(s, made.credential_id)
    except CredentialError as exc:
        return _form_page(ctx, form, status=400, error=str(exc))
    if cred is None:  # cannot happen: made in the transaction above
        return ctx.not_found(N_("That credential was not found."))
    # Rendered from the POST itself: the secret travels in this one answer (no-store) and nowhere else.
    return _manage_page(ctx, cred, status=201, secret=made.client_secret,
                        notice=_("The credential was created. Copy the Client Secret now: it is shown only once."))


@page("oidc")
def manage(ctx: Ctx) -> Response:
    """The manage page: the Client ID, the fields to edit, and the ways to reset the secret or delete."""
    if ctx.request.method == "GET":
        with ctx.db.transaction() as s:
            cred = _load(s, ctx)
        if cred is None:
            return ctx.not_found(N_("That credential was not found."))
        notice = _("Your changes were saved.") if ctx.arg("done") == "saved" else None
        return _manage_page(ctx, cred, notice=notice)
    form = CredentialForm.from_post(ctx)
    try:
        with ctx.db.transaction() as s:
            cred = _load(s, ctx)
            if cred is None:
                return ctx.not_found(N_("That credential was not found."))
            if form.edit_rows(ctx.field("op")):
                return _manage_page(ctx, cred, form)
            credentials.update_credential(s, credentials.find(s, credential_id=cred.id), name=form.name,
                                          description=form.description, logo_uri=form.logo_uri,
                                          redirect_uris=form.uris(), scope=form.scope(), actor=ctx.admin.actor,
                                          ip=ctx.ip, backchannel_logout_uri=form.backchannel_logout_uri,
                                          backchannel_logout_session_required=(
                                              form.backchannel_logout_session_required),
                                          require_par=form.require_par,
                                          post_logout_redirect_uris=form.post_logout_uris(),
                                          refresh_token_policy=form.refresh_token_policy,
                                          id_token_signed_response_alg=form.id_token_alg,
                                          grant_type=form.grant_type_value(), dpop_bound=form.dpop_bound,
                                          **_key_fields(cred, form), secret_key=ctx.web.provider.secret_key)
    except CredentialError as exc:
        with ctx.db.transaction() as s:
            cred = _load(s, ctx)
        if cred is None:
            return ctx.not_found(N_("That credential was not found."))
        return _manage_page(ctx, cred, form, status=400, error=str(exc))
    return ctx.redirect(f"/admin/oauth/{cred.id}?done=saved")


def _confirm(ctx: Ctx, cred: CredentialRow, step: str, *, heading: str, question: str, ok_label: str,
             danger: bool = False) -> Response:
    """The page that asks before ``step`` (reset, delete) is posted."""
    return ctx.render("confirm.html", heading=heading, question=question, subject=cred.name or cred.identifier,
                      action=ctx.path(f"/admin/oauth/{cred.id}/{step}"), cancel=ctx.path(f"/admin/oauth/{cred.id}"),
                      ok_label=ok_label, danger=danger)


def _one_credential(fn: Callable[[Ctx, Session, CredentialRow], Response]) -> Callable[[Ctx], Response]:
    """A step on the credential the path names, in one transaction; 404 when there is none."""
    @functools.wraps(fn)
    def step(ctx: Ctx) -> Response:
        with ctx.db.transaction() as s:
            cred = _load(s, ctx)
            return ctx.not_found(N_("That credential was not found.")) if cred is None else fn(ctx, s, cred)
    return step


@page("oidc")
@_one_credential
def reset_secret(ctx: Ctx, s: Session, cred: CredentialRow) -> Response:
    """GET: ask first. POST: a new secret, shown once; the old one stops working at once."""
    if cred.public:
        return _manage_page(ctx, cred, status=400, error=_("This is a public client: it has no secret to reset."))
    if cred.token_endpoint_auth_method == "private_key_jwt":
        return _manage_page(ctx, cred, status=400, error=_("This client authenticates with its own key "
                                                                       "(private_key_jwt): it has no secret to reset."))
    if ctx.request.method == "GET":
        return _confirm(ctx, cred, "reset", heading=_("Reset Client Secret"), question=_(RESET_QUESTION),
                        ok_label=_("OK"))
    # The secret key seals the new secret of a client_secret_jwt client (oauth/credentials.py seal_secret).
    secret = credentials.update_credential(s, credentials.find(s, credential_id=cred.id), reset_secret=True,
                                           actor=ctx.admin.actor, ip=ctx.ip, secret_key=ctx.web.provider.secret_key)
    return _manage_page(ctx, cred, secret=secret,
                        notice=_("The client secret was reset. Copy the new secret now: it is shown only once."))


@page("oidc")
@_one_credential
def delete(ctx: Ctx, s: Session, cred: CredentialRow) -> Response:
    """GET: ask first. POST: the credential goes, with every token and consent issued to it."""
    if ctx.request.method == "GET":
        return _confirm(ctx, cred, "delete", heading=_("Delete credential"), ok_label=_("Delete"), danger=True,
                        question=_("Applications using this credential stop working at once, and every token "
                                   "and consent issued to it is revoked. This cannot be undone. Continue?"))
    credentials.delete_credential(s, credentials.find(s, credential_id=cred.id), actor=ctx.admin.actor, ip=ctx.ip)
    return ctx.redirect("/admin/oauth?done=deleted")
