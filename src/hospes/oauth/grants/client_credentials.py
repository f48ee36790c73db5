"""grant_type=client_credentials (RFC 6749 §4.4): a confidential client asks for a token for itself, to call
one of the operator's resource servers (RFC 8707 ``resource``).

- Only a confidential client, and only one whose credential lists client_credentials: ``unauthorized_client``
  otherwise (§4.4: "MUST only be used by confidential clients"; §5.2).
- The token is for one of the operator's resource servers (oauth/audience.py). ``resource`` names it; without
  one, the resource whose scopes the credential holds, when that is exactly one. The customer API and the MCP
  server act for a person, so they are never a machine token's audience (``invalid_target``), nor is a
  resource that requires a person's login (its ``require_acr``).
- The scopes: those asked for, each one the credential holds and the resource defines (``invalid_scope``
  otherwise; OpenID Connect's need a person); none asked for: every one of the resource's the credential
  holds (§3.3 lets the server choose a default).
- No refresh token (§4.4.3), no ID token; the token acts for no person (oauth/issuance.py
  ``issue_client_token``).
"""

from __future__ import annotations

from hospes.oauth import audience, errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.grants.base import TokenRequest, UnitGrant
from hospes.oauth.issuance import Issued, Refused, issue_client_token
from hospes.oauth.provider import Provider
from hospes.store import resources as resource_store
from hospes.store.resources import ResourceRow
from hospes.store.sql import Tx


class ClientCredentialsGrant(UnitGrant):
    grant_type = "client_credentials"
    parameters = frozenset({"scope", "resource"})

    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> Issued | Refused:
        if client.public:
            raise errors.UnauthorizedClient("The client_credentials grant is for confidential clients only.")
        if self.grant_type not in client.grant_types:
            raise errors.UnauthorizedClient("This client may not use the client_credentials grant.")
        held = scope_table.parse(client.scope)
        resource = await _resource(provider, tx, request.every("resource"), held)
        own = {scope.name for scope in resource.scopes}
        requested = scope_table.parse(request.one("scope"))
        for name in requested:
            if name in scope_table.OIDC_SCOPES:
                raise errors.InvalidScope(f"The scope '{name}' is about a person; a client_credentials token "
                                          "acts for none.")
            if name not in held:
                raise errors.InvalidScope(f"The scope '{name}' is not one this client holds.")
            if name not in own:
                raise errors.InvalidScope(f"The scope '{name}' is not one of the resource {resource.identifier}.")
        scopes = requested or [name for name in held if name in own]
        if not scopes:
            raise errors.InvalidScope(f"This client holds none of the scopes of the resource {resource.identifier}.")
        return await issue_client_token(provider, tx, client=client, resource=resource, scope=scopes,
                                        jkt=request.jkt, ip=request.ip, request_id=request.request_id)


async def _resource(provider: Provider, tx: Tx, values: list[str], held: list[str]) -> ResourceRow:
    """The operator's resource the token is for (RFC 8707 §2; invalid_target: missing, unknown, or one that
    acts for a person)."""
    issuer = provider.issuer
    identifier = audience.named(values, issuer)
    if identifier is None and not values:
        # No resource asked for: the one whose scopes the client holds, if there is exactly one.
        defined = await resource_store.scopes_named(tx, [n for n in held if n not in scope_table.SCOPES])
        owners = {owner for owner, _ in defined.values()}
        if len(owners) != 1:
            raise errors.InvalidTarget("Name the resource server the token is for with the resource parameter "
                                       "(RFC 8707).")
        identifier = owners.pop()
    if identifier is None or identifier == issuer + audience.MCP_PATH:
        raise errors.InvalidTarget("The customer API and the MCP server act for a person: a client_credentials "
                                   "token is for one of the operator's resource servers.")
    resource = await audience.resolve(tx, identifier, issuer)
    assert resource is not None
    if resource.require_acr is not None:
        raise errors.InvalidTarget(f"The resource {resource.identifier} requires a person's login; a "
                                   "client_credentials token has none.")
    return resource
