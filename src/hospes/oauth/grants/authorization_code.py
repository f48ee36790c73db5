"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5–4.6, RFC 8707 §2.2 ``resource``)."""

from __future__ import annotations

import hmac

from hospes.clock import now
from hospes.oauth import audience, errors, pkce, redirects
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.grants.base import TokenRequest, UnitGrant
from hospes.oauth.issuance import Authentication, Issued, Refused, issue_tokens, refuse_reuse, wants_refresh
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import grants as store
from hospes.store.sql import Tx


class AuthorizationCodeGrant(UnitGrant):
    grant_type = "authorization_code"
    parameters = frozenset({"code", "redirect_uri", "code_verifier", "resource"})

    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> Issued | Refused:
        if self.grant_type not in client.grant_types:
            raise errors.UnauthorizedClient("This client may not use the authorization code grant.")
        code = request.one("code")
        if not code:
            raise errors.InvalidRequest("The code parameter is required.")
        presented = request.one("redirect_uri")
        verifier = request.one("code_verifier")
        row = await store.get_authorization_code(tx, digest(code))
        invalid = errors.InvalidGrant("The authorization code is invalid, expired or already used.")
        if row is None or row.credential_id != client.id:
            raise invalid
        if row.used:
            # RFC 6749 §4.1.2: a code used twice revokes everything issued from it.
            return await refuse_reuse(tx, row.grant.id)
        t = now()
        if row.expires_at is None or row.expires_at <= t:
            raise invalid
        if row.redirect_uri:
            # RFC 6749 §4.1.3: identical to the authorization request's redirect_uri (with a loopback
            # address, the port it used: RFC 8252 §7.3 lets each request pick one).
            if presented is None or not redirects.identical(row.redirect_uri, presented):
                raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
        elif presented is not None and presented not in client.redirect_uris:
            # The authorization request sent none, so it used the one registered URI, as registered.
            raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
        if row.code_challenge:
            if not verifier:
                raise errors.InvalidGrant("The code_verifier is required.")
            if not pkce.verify(verifier, row.code_challenge):
                raise errors.InvalidGrant("The code_verifier does not match the code_challenge.")
        elif verifier is not None:
            # RFC 9700 §2.1.1: refuse a verifier when no challenge was sent (PKCE downgrade).
            raise errors.InvalidGrant("A code_verifier was sent but no code_challenge was.")
        if row.dpop_jkt is not None:
            # RFC 9449 §10: the authorization request named the key (dpop_jkt); the token request proves it.
            if request.proof is None:
                raise errors.InvalidGrant("A DPoP proof by the key named in dpop_jkt is required.")
            if not hmac.compare_digest(request.proof.jkt, row.dpop_jkt):
                raise errors.InvalidGrant("The DPoP proof's key is not the one named in dpop_jkt.")
        # RFC 8707 §2.2: the resource the authorization was for, or none (the same); checked before the code is
        # used, so a refused request leaves it for a corrected one.
        audience.at_token_endpoint(request.every("resource"), provider.issuer, row.grant.resource)
        # Single use, atomically: of two concurrent exchanges only one wins.
        if not await store.invalidate_authorization_code(tx, row.id, t):
            return await refuse_reuse(tx, row.grant.id)
        if not row.grant.active:  # the grant is revoked or the user disabled
            raise invalid
        scopes = row.scope.split()
        auth = Authentication(auth_time=row.auth_time, acr=row.acr, amr=row.amr, nonce=row.nonce, sid=row.session_id)
        return await issue_tokens(provider, tx, client=client, grant=row.grant, scope=scopes,
                                  auth=auth, refresh=wants_refresh(client, scopes), jkt=request.jkt,
                                  event="token.granted", ip=request.ip, request_id=request.request_id)
