"""RP-initiated logout's rules (OpenID Connect RP-Initiated Logout 1.0,
https://openid.net/specs/openid-connect-rpinitiated-1_0.html): who asks, where the browser goes afterwards,
and whether the relying party has proved which person it means.

The web layer (web/logout.py) parses the request, asks here, and renders the confirmation page or ends the
session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.oauth import errors, id_token
from hospes.oauth.provider import Provider
from hospes.store import clients
from hospes.store.models import User

PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales")


@dataclass(frozen=True)
class LogoutRequest:
    redirect: str | None  # a registered post_logout_redirect_uri, or None: Hospes's own page
    state: str | None
    app_name: str
    hint_sub: str | None  # the `sub` of a valid id_token_hint


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[0] if values else None


def parse(provider: Provider, s: Session, params: Mapping[str, Sequence[str]]) -> LogoutRequest:
    """Validate a logout request (§2); raises ``errors.InvalidRequest`` with a message fit to show."""
    for name in PARAMETERS:
        if len(params.get(name, [])) > 1:
            raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
    hint = _first(params, "id_token_hint")
    redirect = _first(params, "post_logout_redirect_uri")
    client_id = _first(params, "client_id")
    claims = None
    if hint:
        claims = id_token.decode_hint(provider, hint)
        if claims is None:
            raise errors.InvalidRequest("The id_token_hint is not a valid ID token from this provider.")
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        if client_id and client_id not in aud_list:
            raise errors.InvalidRequest("The client_id does not match the id_token_hint.")
        client_id = client_id or (aud_list[0] if aud_list else None)
    cred = None
    if client_id:
        cred = clients.credential(s, client_id)
        if cred is None:
            raise errors.InvalidRequest("The client_id is not known.")
    if redirect:
        # §3: the URI must have been registered for the client named by id_token_hint or client_id.
        if cred is None:
            raise errors.InvalidRequest("A post_logout_redirect_uri needs an id_token_hint or a client_id.")
        if redirect not in (cred.post_logout_redirect_uris or []):
            raise errors.InvalidRequest("The post_logout_redirect_uri is not registered for this application.")
    sub = claims.get("sub") if claims is not None else None
    return LogoutRequest(redirect=redirect, state=_first(params, "state"), app_name=(cred.name if cred else "") or "",
                         hint_sub=sub if isinstance(sub, str) else None)


def hint_matches(s: Session, req: LogoutRequest, user_id: int) -> bool:
    """The id_token_hint names the person logged in: the logout needs no confirmation (§2)."""
    if req.hint_sub is None:
        return False
    return s.scalar(select(User.uuid).where(User.id == user_id)) == req.hint_sub
