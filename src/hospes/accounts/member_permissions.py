"""Who may do what in a client account: the permissions an owner gives the people they invite, and the
operation that changes them with its audit entry. The accounts and people themselves are read through
store/accounts.py."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from hospes import audit
from hospes.store.accounts import members, set_permissions

# The user-level permission an account owner may take away ("Allow Single Sign-On"); sso/tokens.py checks
# it when a token is redeemed.
SSO_PERMISSION = "sso"
# What an invited user may be allowed: WHMCS's user permissions
# (https://developers.whmcs.com/api-reference/updateuserpermissions/) and the SSO switch above.
USER_PERMISSIONS = ("profile", "contacts", "products", "manageproducts", "productsso", "domains", "managedomains",
                    "invoices", "quotes", "tickets", "affiliates", "emails", "orders", SSO_PERMISSION)


def set_sso_permissions(s: Session, client_id: int, *, shown: Collection[int], allowed: Collection[int],
                        actor: str, ip: str = "") -> list[int]:
    """Give the SSO permission to the invited users in ``allowed`` and take it from the others in ``shown``
    (someone invited since the page was shown keeps what they have; an owner always may). Records one
    ``user.permissions_updated`` entry per user whose permission changed; returns their ids."""
    changed = []
    for member in members(s, client_id):
        user_id = member.person.id
        if member.owner or user_id not in shown:
            continue
        allow = user_id in allowed
        if allow == (SSO_PERMISSION in member.permissions):
            continue
        held = member.permissions
        set_permissions(s, client_id, user_id,
                        [*held, SSO_PERMISSION] if allow else [p for p in held if p != SSO_PERMISSION])
        audit.entry(s, actor, "user.permissions_updated", f"user:{user_id}", ip=ip, client_id=client_id,
                    permission=SSO_PERMISSION, allowed=allow)
        changed.append(user_id)
    return changed
