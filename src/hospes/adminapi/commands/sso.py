"""CreateSsoToken (https://developers.whmcs.com/api-reference/createssotoken/)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.sso import destinations
from hospes.sso.tokens import SsoError, mint
from hospes.store.models import ClientAccount, User, UserClient
from hospes.store.values import row_id


def _id(value: str | None, message: str) -> int | None:
    """An id parameter: None when absent; ``message`` (WHMCS's) when it is not an id a row could have."""
    if value in (None, ""):
        return None
    n = row_id(value)
    if n is None:
        raise ApiError(message)
    return n


@command("CreateSsoToken")
def create_sso_token(s: Session, call: Call) -> dict[str, Any]:
    client_id = _id(call.get("client_id"), "Invalid client_id")
    user_id = _id(call.get("user_id"), "Invalid user_id")
    if client_id is None and user_id is None:
        raise ApiError("A valid client_id or user_id is required")
    client = s.get(ClientAccount, client_id) if client_id else None
    if client_id is not None and client is None:
        raise ApiError("Invalid client_id")
    user = s.get(User, user_id) if user_id else None
    if user_id is not None and user is None:
        raise ApiError("Invalid user_id")
    if client is not None and user is not None:
        if s.get(UserClient, (user.id, client.id)) is None:
            raise ApiError("Invalid user_id for client")
    elif client is not None:
        # No user_id: the owner of the client is assumed.
        user = s.get(User, client.owner_user_id) if client.owner_user_id else None
        if user is None:
            raise ApiError("Invalid user_id")
    else:
        assert user is not None
        owned = s.scalar(select(UserClient.client_id).where(UserClient.user_id == user.id)
                         .order_by((UserClient.role == "owner").desc(), UserClient.client_id))
        client = s.get(ClientAccount, owned) if owned else None
        if client is None:
            raise ApiError("Invalid user_id")
    destination = call.get("destination") or ""
    if destination and not destinations.is_destination(destination):
        raise ApiError("Invalid destination")
    try:
        minted = mint(
            s, call.provider.settings, client=client, user=user, destination=destination,
            service_id=_id(call.get("service_id"), "Invalid service_id"),
            domain_id=_id(call.get("domain_id"), "Invalid domain_id"),
            redirect_path=call.get("sso_redirect_path") or "", issued_by=f"api:{call.caller.identifier}",
        )
    except SsoError as exc:
        raise ApiError(str(exc)) from None
    call.audit(s, "sso.token_minted", f"client:{client.id}", user_id=user.id, destination=destination or "homepage")
    return {"access_token": minted.access_token, "redirect_url": minted.redirect_url}
