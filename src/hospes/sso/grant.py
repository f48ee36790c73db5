"""grant_type=single_sign_on: a credential bound to one service gets a one-time SSO token for
that service's client account (reference §8.2). cPanel's field names are accepted too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.oauth import errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.provider import Provider
from hospes.sso import destinations
from hospes.sso.tokens import SsoError, mint
from hospes.store.models import ClientAccount, Domain, Service, User

GRANT_TYPE = "single_sign_on"
BASE_SCOPE = "clientarea:sso"


def normalize(form: dict[str, list[str]], query: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """cPanel posts ``subscriber_unique_id``/``token`` (+ ``user``, ``app``, ``attempt``) to a token URL
    whose query carries ``scope``, and sends no grant_type (reference §8.2)."""
    if "subscriber_unique_id" in form and "grant_type" not in form:
        form = dict(form)
        form["grant_type"] = [GRANT_TYPE]
        form.setdefault("client_id", form.pop("subscriber_unique_id"))
        if "token" in form:
            form.setdefault("client_secret", form.pop("token"))
    if (form.get("grant_type") or [""])[0] == GRANT_TYPE and "scope" not in form and "scope" in query:
        form = {**form, "scope": list(query["scope"])}
    return form


def handle(provider: Provider, s: Session, client: AuthenticatedClient, form: Mapping[str, Sequence[str]],
           one: Any) -> dict[str, Any]:
    if client.grant_type != GRANT_TYPE or client.service_id is None:
        raise errors.UnauthorizedClient("This client may not use the single_sign_on grant.")
    requested = scope_table.parse(one("scope"))
    held = set(scope_table.parse(client.scope))
    if BASE_SCOPE not in requested:
        raise errors.InvalidScope(f"The scope {BASE_SCOPE} is required.")
    wanted = [x for x in requested if x != BASE_SCOPE]
    for name in requested:
        if name not in scope_table.SCOPES or name not in held:
            raise errors.InvalidScope(f'The requested scope "{name}" is invalid.')
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
    username = one("user")
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
