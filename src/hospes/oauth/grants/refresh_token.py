"""grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2); the grant's
resource (RFC 8707 §2.2) and the original login's acr carry over to every token it yields."""

from __future__ import annotations

import hmac

from hospes.clock import now
from hospes.oauth import audience, errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.grants.base import TokenRequest, UnitGrant
from hospes.oauth.issuance import Authentication, Issued, Refused, issue_tokens, refuse_reuse
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import grants as store
from hospes.store.sql import Tx


class RefreshTokenGrant(UnitGrant):
    grant_type = "refresh_token"
    parameters = frozenset({"refresh_token", "scope", "resource"})

    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> Issued | Refused:
        token = request.one("refresh_token")
        if not token:
            raise errors.InvalidRequest("The refresh_token parameter is required.")
        invalid = errors.InvalidGrant("The refresh token is invalid, expired or revoked.")
        row = await store.get_refresh_token(tx, digest(token))
        if row is None or row.credential_id != client.id:
            raise invalid
        if row.used:
            # RFC 9700 §4.14.2: a rotated refresh token presented again revokes the grant.
            return await refuse_reuse(tx, row.grant.id)
        t = now()
        if row.revoked or row.expires_at is None or row.expires_at <= t:
            raise invalid
        if not row.grant.active:  # the grant is revoked or the user disabled
            raise invalid
        original = row.scope.split()
        requested = scope_table.parse(request.one("scope"))
        if requested:
            # RFC 6749 §6: the new scope must not exceed the original grant.
            extra = [x for x in requested if x not in original]
            if extra:
                raise errors.InvalidScope(f"The scope '{extra[0]}' was not part of the original grant.")
            scopes = requested
        else:
            scopes = original
        # RFC 9449 §5: a public client's refresh token is bound to its DPoP key; only a proof by it refreshes.
        if row.jkt is not None and (request.proof is None or not hmac.compare_digest(request.proof.jkt, row.jkt)):
            raise errors.InvalidGrant("The refresh token is bound to a DPoP key: send a proof signed with it.")
        audience.at_token_endpoint(request.every("resource"), provider.issuer, row.grant.resource)
        if not await store.invalidate_refresh_token(tx, row.id, t):
            return await refuse_reuse(tx, row.grant.id)
        auth = Authentication(auth_time=row.auth_time, acr=row.acr, amr=row.amr)
        return await issue_tokens(provider, tx, client=client, grant=row.grant, scope=scopes,
                                  auth=auth, refresh=True, refresh_scope=original, jkt=request.jkt,
                                  event="token.refreshed", ip=request.ip, request_id=request.request_id)
