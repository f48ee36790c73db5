"""The account owner's Single Sign-On controls.

``/account/sso``: the account's "Allow Single Sign-On" switch (ClientAccount.allow_sso, the same switch
the admin sees on the client). ``/account/users``: per invited user, the "Allow Single Sign-On"
permission (an owner always may). Both are read again when a token is redeemed (sso/tokens.py), so a
change stops tokens already minted and not yet used.
"""

from __future__ import annotations

from starlette.responses import Response

from hospes.accounts import member_permissions, service
from hospes.accounts.member_permissions import SSO_PERMISSION
from hospes.i18n import N_
from hospes.store import accounts
from hospes.store.values import row_id
from hospes.web.clientarea.gate import Ctx, page

CHECKED = ("1", "on", "yes", "true")


@page
def account_sso(ctx: Ctx) -> Response:
    if not ctx.account.owner:
        return ctx.owner_only()
    if ctx.request.method == "POST":
        allow = ctx.field("allow_sso").lower() in CHECKED
        with ctx.db.transaction() as s:
            if accounts.client_account(s, ctx.account.id) is None:
                return ctx.not_found(N_("That account was not found in your account."))
            service.update_client(s, service.get_client(s, ctx.account.id), allow_sso=allow, actor=ctx.actor,
                                  ip=ctx.ip)
        return ctx.redirect("/account/sso", saved=1)
    with ctx.db.read() as s:
        client = accounts.client_account(s, ctx.account.id)
    if client is None:
        return ctx.not_found(N_("That account was not found in your account."))
    return ctx.render("sso.html", "sso", allow_sso=client.allow_sso, saved=ctx.arg("saved") == "1")


def _ids(values: list[str]) -> set[int]:
    return {n for n in (row_id(v) for v in values) if n is not None}


@page
def account_users(ctx: Ctx) -> Response:
    if not ctx.account.owner:
        return ctx.owner_only()
    if ctx.request.method == "POST":
        # Only the users the page showed are changed (someone invited since keeps what they have).
        with ctx.db.transaction() as s:
            member_permissions.set_sso_permissions(s, ctx.account.id, shown=_ids(ctx.form.get("user", [])),
                                                allowed=_ids(ctx.form.get("sso", [])), actor=ctx.actor,
                                                ip=ctx.ip)
        return ctx.redirect("/account/users", saved=1)
    with ctx.db.read() as s:
        people = accounts.members(s, ctx.account.id)
    members = [{"id": m.person.id, "name": m.person.full_name or m.person.email, "email": m.person.email,
                "owner": m.owner, "sso": m.may(SSO_PERMISSION)} for m in people]
    return ctx.render("users.html", "users", members=members, saved=ctx.arg("saved") == "1",
                      invited=any(not m["owner"] for m in members))
