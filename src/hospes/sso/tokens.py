"""Minting and redeeming single sign-on tokens (WHMCS CreateSsoToken, the single_sign_on grant,
/oauth/singlesignon.php). Tokens are single use, live HOSPES_SSO_TOKEN_TTL seconds, and every
rule (client status, the client's and the user's SSO switches) is checked again at redemption,
so turning SSO off stops tokens already minted."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hospes.accounts.member_permissions import SSO_PERMISSION
from hospes.clock import now, utc
from hospes.config import Settings
from hospes.secrets import digest
from hospes.sso import destinations
from hospes.store.models import ClientAccount, Domain, Service, SsoToken, User, UserClient


class SsoError(ValueError):
    """A refusal with WHMCS's wording."""


@dataclass(frozen=True)
class Minted:
    access_token: str
    redirect_url: str


def redemption_url(settings: Settings, token: str) -> str:
    return settings.url("/oauth/singlesignon.php?access_token=" + token)


def mint(
    s: Session, settings: Settings, *, client: ClientAccount, user: User, destination: str = "",
    service_id: int | None = None, domain_id: int | None = None, redirect_path: str = "", issued_by: str = "",
) -> Minted:
    if destination and not destinations.is_destination(destination):
        raise SsoError("Invalid destination")
    dest = destinations.DESTINATIONS.get(destination)
    if dest is not None and dest.needs_service:
        service = s.get(Service, service_id) if service_id else None
        if service is None or service.client_id != client.id:
            raise SsoError("Invalid service_id")
    if dest is not None and dest.needs_domain:
        domain = s.get(Domain, domain_id) if domain_id else None
        if domain is None or domain.client_id != client.id:
            raise SsoError("Invalid domain_id")
    if destination == destinations.CUSTOM:
        try:
            redirect_path = destinations.check_custom_path(redirect_path)
        except destinations.DestinationError as exc:
            raise SsoError(str(exc)) from None
    elif redirect_path:
        # sso_redirect_path goes only with sso:custom_redirect.
        raise SsoError("sso_redirect_path requires the sso:custom_redirect destination")
    if not client.allow_sso:
        raise SsoError(f"SSO authentication blocked for client {client.id}")
    # 160 bits, as 40 hex characters: WHMCS's shape (https://developers.whmcs.com/api-reference/createssotoken/).
    token = secrets.token_hex(20)
    t = now()
    s.add(SsoToken(token_hash=digest(token), client_id=client.id, user_id=user.id, destination=destination,
                   service_id=service_id, domain_id=domain_id, redirect_path=redirect_path, issued_by=issued_by,
                   created_at=t, expires_at=t + timedelta(seconds=settings.sso_token_ttl)))
    return Minted(token, redemption_url(settings, token))


@dataclass(frozen=True)
class Redeemed:
    user: User
    client_id: int
    landing_url: str


@dataclass(frozen=True)
class Refused:
    message: str
    user_id: int | None = None
    client_id: int | None = None


def redeem(s: Session, settings: Settings, token: str) -> Redeemed | Refused:
    """Claim the token (once) and check every rule now. A refusal is returned, not raised, so the
    claim commits: a refused token is spent too."""
    row = s.scalar(select(SsoToken).where(SsoToken.token_hash == digest(token))) if 0 < len(token) <= 128 else None
    if row is None:
        return Refused("Unable to authenticate with Single Sign-On token")
    who = f"User ID: {row.user_id}"

    def refuse(message: str) -> Refused:
        return Refused(message, row.user_id, row.client_id)

    claimed = s.execute(update(SsoToken).where(SsoToken.id == row.id, SsoToken.used_at.is_(None))
                        .values(used_at=now()))
    if claimed.rowcount != 1 or utc(row.expires_at) <= now():  # type: ignore[attr-defined]
        return refuse(f"Unable to authenticate with Single Sign-On token for {who}")
    client = s.get(ClientAccount, row.client_id)
    user = s.get(User, row.user_id)
    link = s.get(UserClient, (row.user_id, row.client_id))
    if client is None or user is None or link is None or user.disabled:
        return refuse(f"Unable to authenticate with Single Sign-On token for {who}")
    if client.status not in ("Active", "Inactive"):
        return refuse(f'Single Sign-On authentication denied for "{client.status}" {who}')
    # The owner's own switch is the account's; invited users need the owner's permission too.
    user_allowed = link.role == "owner" or SSO_PERMISSION in (link.permissions or [])
    if not client.allow_sso or not user_allowed:
        return refuse(f"Single Sign-On authentication denied per configuration for {who}")
    try:
        landing = destinations.url_for(settings, row.destination, service_id=row.service_id,
                                       domain_id=row.domain_id, redirect_path=row.redirect_path)
    except destinations.DestinationError:
        return refuse(f"Unable to authenticate with Single Sign-On token for {who}")
    # A user who reaches several accounts lands on the one the token is for: the client area names the
    # account it shows in its URL (web/clientarea/gate.py), else it shows the first one the user owns.
    if landing.startswith(settings.issuer + "/") and (s.scalar(
            select(func.count()).select_from(UserClient).where(UserClient.user_id == user.id)) or 0) > 1:
        parts = urlsplit(landing)
        landing = urlunsplit(parts._replace(query=(parts.query + "&" if parts.query else "") + f"client={client.id}"))
    return Redeemed(user, client.id, landing)
