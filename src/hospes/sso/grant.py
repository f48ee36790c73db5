"""grant_type=single_sign_on: a credential bound to one service gets a one-time SSO token for that service's
client account, as WHMCS's "OAuth Token" method of single sign-on does
(https://docs.whmcs.com/customization/single-sign-on-into-whmcs/). cPanel's field names are accepted too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.oauth import errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.grants.base import SessionGrant, TokenRequest
from hospes.oauth.params import Params
from hospes.oauth.provider import Provider
from hospes.sso import destinations
from hospes.sso.tokens import SsoError, mint
from hospes.store.models import ClientAccount, Domain, Service, User

BASE_SCOPE = "clientarea:sso"


class SingleSignOnGrant(SessionGrant):
    """Not a hot path: it mints through sso/tokens.py in an ORM session, in a worker thread."""

    grant_type = "single_sign_on"
    # cPanel also posts ``app`` and ``attempt``; nothing here needs them.
    parameters = frozenset({"scope", "user"})
    implied_by = "subscriber_unique_id"

    def read(self, form: Params, query: Params) -> Params:
        """cPanel's Application Links post ``subscriber_unique_id`` and ``token`` (the credential's identifier and
        secret) with ``user``, ``app`` and ``attempt``, and no grant_type, to a token URL whose query carries
        ``scope`` (https://docs.whmcs.com/system/authentication/application-links)."""
        if "grant_type" not in form:
            renamed = dict(form)
            renamed.setdefault("client_id", renamed.pop("subscriber_unique_id"))
            if "token" in renamed:
                renamed.setdefault("client_secret", renamed.pop("token"))
            form = renamed
        if "scope" not in form and "scope" in query:
            form = {**form, "scope": list(query["scope"])}
        return form

    def exchange(self, provider: Provider, s: Session, client: AuthenticatedClient,
                 request: TokenRequest) -> dict[str, Any]:
        if self.grant_type not in client.grant_types or client.service_id is None:
            raise errors.UnauthorizedClient("This client may not use the single_sign_on grant.")
        return _mint(provider, s, client, request)


def _mint(provider: Provider, s: Session, client: AuthenticatedClient, request: TokenRequest) -> dict[str, Any]:
    requested = scope_table.parse(request.one("scope"))
    held = set(scope_table.parse(client.scope))
    if BASE_SCOPE not in requested:
        raise errors.InvalidScope(f"The scope {BASE_SCOPE} is required.")
    wanted = [x for x in requested if x != BASE_SCOPE]
    for name in requested:
        if name not in scope_table.SCOPES or name not in held:
            raise errors.InvalidScope(f"The requested scope '{name}' is invalid.")
    if len(wanted) > 1 or (wanted and not destinations.is_destination(wanted[0])):
        raise errors.InvalidScope("At most one destination scope may be requested with clientarea:sso.")
    destination = wanted[0] if wanted else ""
    if destination == destinations.CUSTOM:
        raise errors.InvalidScope("sso:custom_redirect is available through CreateSsoToken only.")
    service = s.get(Service, client.service_id)
    account = s.get(ClientAccount, service.client_id) if service else None
    user = s.get(User, account.owner_user_id) if account and account.owner_user_id else None
    if service is None or account is None or user is None:
        raise errors.InvalidGrant("The credential's service is not tied to a client.")
    username = request.one("user")
    if username is not None and service.username and username != service.username:
        raise errors.InvalidGrant("The user does not match the credential's service.")
    domain_id = None
    if destination == "clientarea:domain_details":
        domain_id = s.scalar(select(Domain.id).where(Domain.client_id == account.id, Domain.domain == service.domain))
    try:
        minted = mint(s, provider.settings, client=account, user=user, destination=destination,
                      service_id=service.id, domain_id=domain_id, issued_by=f"oauth_credential:{client.id}")
    except SsoError as exc:
        raise errors.InvalidGrant(str(exc)) from None
    audit.record(s, actor=f"oauth_credential:{client.id}", action="sso.token_minted", target=f"client:{account.id}",
                 details={"destination": destination or "homepage", "service_id": service.id, "user_id": user.id})
    return {"access_token": minted.access_token, "redirect_url": minted.redirect_url,
            "expires_in": provider.settings.sso_token_ttl}
