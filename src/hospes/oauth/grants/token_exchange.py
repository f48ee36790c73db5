"""grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): an agent acting for a customer with a
narrower token than the customer's application holds.

The acting client (the agent) authenticates as at any grant (oauth/client_auth.py) and must be registered for
this grant type (which only a confidential client may be, oauth/credentials.py). It presents the customer's token
as ``subject_token``: an access token Hospes issued (``subject_token_type``
urn:ietf:params:oauth:token-type:access_token; refresh tokens and other JWTs are not accepted as subjects) for a
person (a client_credentials token acts for no one), live (unexpired, unrevoked, its grant unrevoked, its person
enabled), issued to any client. What it gets is only ever narrower:

- scope: what it asks for (or, when it asks for none, the subject token's scopes it holds itself) must be within
  the subject token's scope and within the scopes the acting client is registered for (invalid_scope otherwise;
  RFC 8693 §2.1, RFC 6749 §3.3);
- audience: the subject token's; a ``resource`` (RFC 8707) or ``audience`` (RFC 8693 §2.1) naming another is
  invalid_target (§2.2.2), as a token has one audience here (oauth/audience.py);
- lifetime: never past the subject token's expiry; no refresh token (§2.2.1: it is optional, and one here would
  outlive the subject); no ID token (the issued token type is an access token);
- the person's client accounts: the subject grant's, since the new token lives under that grant. So revoking
  that grant (the connected-applications page, revoking its refresh token, deleting its client) revokes every
  token exchanged from it, and the customer API and the MCP server reach what the grant reaches, within the
  narrower scope.

The new token carries ``act`` (RFC 8693 §4.1): ``{"sub": <the acting client's client_id>}``, with the subject
token's own ``act`` nested inside when the subject was itself exchanged. Introspection reports it, and a JWT
access token (RFC 9068, a resource of format jwt) carries it as a claim.

An ``actor_token`` (§2.1) is optional; when sent, with ``actor_token_type`` access_token, it must be a live access
token issued to the acting client itself, or the request is invalid_request: the act claim names the
authenticated client either way. Every problem with the subject or actor token is invalid_request (§2.2.2).
"""

from __future__ import annotations

from typing import Any

from hospes.clock import now
from hospes.oauth import audience, errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.credentials import TOKEN_EXCHANGE
from hospes.oauth.grants.base import TokenRequest, UnitGrant
from hospes.oauth.issuance import Authentication, Issued, issue_tokens
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import grants as store
from hospes.store.sql import Tx

# RFC 8693 §3: the token type identifiers.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# What the subject and actor tokens may be: access tokens Hospes issued (opaque, or its JWT access tokens, which
# are stored by digest as opaque ones are).
SUPPORTED_TYPES = (ACCESS_TOKEN_TYPE,)


class TokenExchangeGrant(UnitGrant):
    grant_type = TOKEN_EXCHANGE
    parameters = frozenset({"subject_token", "subject_token_type", "actor_token", "actor_token_type",
                            "requested_token_type", "scope", "resource", "audience"})

    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> Issued:
        # The acting party is the authenticated client (RFC 8693 §1.1); only a confidential client may be
        # registered for this grant (oauth/credentials.py PUBLIC_GRANTS).
        if self.grant_type not in client.grant_types:
            raise errors.UnauthorizedClient("This client may not use the token exchange grant.")
        subject_token = _token(request, "subject_token", required=True)
        requested_type = request.one("requested_token_type")
        if requested_type is not None and requested_type != ACCESS_TOKEN_TYPE:
            raise errors.InvalidRequest("Only an access token can be requested "
                                        f"(requested_token_type {ACCESS_TOKEN_TYPE}).")
        t = now()
        # RFC 8693 §2.2.2: a subject token that is unknown, expired or revoked is invalid_request.
        subject = await store.live_access_token(tx, digest(subject_token), t) if subject_token else None
        if subject is None:
            raise errors.InvalidRequest("The subject_token is invalid, expired or revoked.")
        actor_token = _token(request, "actor_token", required=False)
        if actor_token is not None:
            actor = await store.live_access_token(tx, digest(actor_token), t)
            if actor is None or actor.credential_id != client.id:
                raise errors.InvalidRequest("The actor_token must be a live access token of the acting client.")

        # RFC 8707 §2 and RFC 8693 §2.1: the audience may be repeated, never changed (one audience per token).
        granted = subject.grant.resource
        for name in ("resource", "audience"):
            audience.at_token_endpoint(request.every(name), provider.issuer, granted)

        scopes = _narrowed(subject.scope.split(), scope_table.parse(client.scope),
                           scope_table.parse(request.one("scope")))
        # RFC 8693 §4.1: the acting party, and whoever acted before it, nested.
        act: dict[str, Any] = {"sub": client.identifier}
        if subject.act:
            act["act"] = subject.act
        issued = await issue_tokens(provider, tx, client=client, grant=subject.grant, scope=scopes,
                                    auth=Authentication(auth_time=0, acr=subject.acr, amr=[]), refresh=False,
                                    jkt=request.jkt, act=act, not_after=subject.expires_at, event="token.exchanged",
                                    ip=request.ip, request_id=request.request_id)
        # RFC 8693 §2.2.1: issued_token_type is required in the response.
        issued.body["issued_token_type"] = ACCESS_TOKEN_TYPE
        return issued


def _token(request: TokenRequest, name: str, *, required: bool) -> str | None:
    """The ``subject_token`` or ``actor_token`` with its ``*_type``, checked (RFC 8693 §2.1)."""
    value = request.one(name)
    kind = request.one(name + "_type")
    if not value:
        if required:
            raise errors.InvalidRequest(f"The {name} parameter is required.")
        if kind is not None:
            raise errors.InvalidRequest(f"{name}_type was sent without {name}.")
        return None
    if kind is None:
        raise errors.InvalidRequest(f"The {name}_type parameter is required.")
    if kind not in SUPPORTED_TYPES:
        raise errors.InvalidRequest(f"The {name}_type must be {ACCESS_TOKEN_TYPE}.")
    return value


def _narrowed(subject: list[str], held: list[str], asked: list[str]) -> list[str]:
    """The exchanged token's scopes: within the subject token's and the acting client's own (RFC 8693 §2.1 scope,
    RFC 6749 §3.3). Asked for explicitly, every one must be both; asked for none, those of the subject's the client
    holds."""
    if not asked:
        scopes = [name for name in subject if name in held]
        if not scopes:
            raise errors.InvalidScope("The acting client holds none of the subject token's scopes.")
        return scopes
    for name in asked:
        if name not in subject:
            raise errors.InvalidScope(f"The scope '{name}' is not in the subject token's scope.")
        if name not in held:
            raise errors.InvalidScope(f"The scope '{name}' is not allowed for this client.")
    return list(dict.fromkeys(asked))
