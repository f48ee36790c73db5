"""The account owner's Single Sign-On controls.

``/account/sso``: the account's "Allow Single Sign-On" switch (ClientAccount.allow_sso, the same switch
the admin sees on the client). ``/account/users``: per invited user, the "Allow Single Sign-On"
permission (an owner always may). Both are read again when a token is redeemed (sso/tokens.py), so a
change stops tokens already minted and not yet used.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from hospes.accounts.service import update_client
from hospes.sso.tokens import SSO_PERMISSION
from hospes.store.models import ClientAccount, User, UserClient
from hospes.web.clientarea.gate import Ctx, page, parse_id

CHECKED = ("1", "on", "yes", "true")


@page
def account_sso(ctx: Ctx) -> Response:
    if not ctx.account.owner:
        return ctx.owner_only()
    if ctx.request.method == "POST":
        allow = ctx.field("allow_sso").lower() in CHECKED
        with ctx.db.transaction() as s:
            client = s.get(ClientAccount, ctx.account.id)
            if client is None:
                return ctx.not_found("That account")
            update_client(s, client, allow_sso=allow, actor=ctx.actor, ip=ctx.ip)
        return ctx.redirect("/account/sso", saved=1)
    with ctx.db.read() as s:
        client = s.get(ClientAccount, ctx.account.id)
        if client is None:
            return ctx.not_found("That account")
        allow_sso = client.allow_sso
    return ctx.render("sso.html", "sso", allow_sso=allow_sso, saved=ctx.arg("saved") == "1")


def set_sso_permission(s: Session, link: UserClient, allowed: bool) -> bool:
    """Give or take the invited user's SSO permission; True when it changed. (A new list, so the JSON
    column is seen as changed.)"""
    held = list(link.permissions or [])
    if allowed == (SSO_PERMISSION in held):
        return False
    link.permissions = held + [SSO_PERMISSION] if allowed else [p for p in held if p != SSO_PERMISSION]
    return True


def _members(s: Session, client_id: int) -> list[tuple[UserClient, User]]:
    rows = s.execute(select(UserClient, User).join(User, User.id == UserClient.user_id)
                     .where(UserClient.client_id == client_id)).all()
    return sorted(((link, user) for link, user in rows), key=lambda r: (r[0].role != "owner", r[1].id))


@page
def account_users(ctx: Ctx) -> Response:
    if not ctx.account.owner:
        return ctx.owner_only()
    if ctx.request.method == "POST":
        # Only the users the page showed are changed (someone invited since keeps what they have).
        shown = {n for n in (parse_id(v) for v in ctx.form.get("user", [])) if n is not None}
        allowed = {n for n in (parse_id(v) for v in ctx.form.get("sso", [])) if n is not None}
        with ctx.db.transaction() as s:
            for link, user in _members(s, ctx.account.id):
                if link.role == "owner" or user.id not in shown:
                    continue
                if set_sso_permission(s, link, user.id in allowed):
                    ctx.audit(s, "user.permissions_updated", f"user:{user.id}", client_id=ctx.account.id,
                              permission=SSO_PERMISSION, allowed=user.id in allowed)
        return ctx.redirect("/account/users", saved=1)
    with ctx.db.read() as s:
        members = [{"id": user.id, "name": f"{user.first_name} {user.last_name}".strip() or user.email,
                    "email": user.email, "owner": link.role == "owner",
                    "sso": link.role == "owner" or SSO_PERMISSION in (link.permissions or [])}
                   for link, user in _members(s, ctx.account.id)]
    return ctx.render("users.html", "users", members=members, saved=ctx.arg("saved") == "1",
                      invited=any(not m["owner"] for m in members))
