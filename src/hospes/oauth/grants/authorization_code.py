"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5–4.6)."""

from __future__ import annotations

import hmac
from typing import Any

from hospes.clock import now
from hospes.oauth import errors, pkce
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.issuance import (
    GRANT_AND_PERSON_COLUMNS,
    Authentication,
    Issued,
    Refused,
    active_person,
    issue_tokens_tx,
    refuse_reuse,
    wants_refresh,
)
from hospes.oauth.provider import Provider
from hospes.oauth.tokens import digest
from hospes.store.sql import Tx, aware, json_list

GRANT_TYPE = "authorization_code"

CODE_SQL = (
    "SELECT c.id, c.grant_id, c.credential_id, c.redirect_uri, c.scope, c.nonce, c.code_challenge, c.auth_time, "  # noqa: S608 (constant text)
    f"c.acr, c.amr, c.session_id, c.expires_at, c.used_at, {GRANT_AND_PERSON_COLUMNS} FROM authorization_codes c "
    "JOIN grants g ON g.id = c.grant_id JOIN users u ON u.id = c.user_id WHERE c.code_hash = %s"
)


async def handle(provider: Provider, tx: Tx, client: AuthenticatedClient, one: Any) -> Issued | Refused:
    if client.grant_type != "authorization_code":
        raise errors.UnauthorizedClient("This client may not use the authorization code grant.")
    code = one("code")
    if not code:
        raise errors.InvalidRequest("The code parameter is required.")
    redirect_uri = one("redirect_uri")
    verifier = one("code_verifier")
    row = await tx.one(CODE_SQL, digest(code))
    invalid = errors.InvalidGrant("The authorization code is invalid, expired or already used.")
    if row is None:
        raise invalid
    (code_id, grant_id, credential_id, stored_redirect, scope, nonce, challenge, auth_time, acr, amr,
     session_id, expires_at, used_at) = row[:13]
    if credential_id != client.id:
        raise invalid
    if used_at is not None:
        # RFC 6749 §4.1.2: a code used twice revokes everything issued from it.
        return await refuse_reuse(tx, grant_id)
    t = now()
    expires = aware(expires_at)
    if expires is None or expires <= t:
        raise invalid
    if stored_redirect:
        if redirect_uri is None or not hmac.compare_digest(redirect_uri.encode(), stored_redirect.encode()):
            raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
    elif redirect_uri is not None and redirect_uri not in client.redirect_uris:
        raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
    if challenge:
        if not verifier:
            raise errors.InvalidGrant("The code_verifier is required.")
        if not pkce.verify(verifier, challenge):
            raise errors.InvalidGrant("The code_verifier does not match the code_challenge.")
    elif verifier is not None:
        # RFC 9700 §2.1.1: refuse a verifier when no challenge was sent (PKCE downgrade).
        raise errors.InvalidGrant("A code_verifier was sent but no code_challenge was.")
    # Single use, atomically: of two concurrent exchanges only one wins.
    if await tx.execute("UPDATE authorization_codes SET used_at = %s WHERE id = %s AND used_at IS NULL",
                        tx.ts(t), code_id) != 1:
        return await refuse_reuse(tx, grant_id)
    user = active_person(row[13:])
    if user is None:  # the grant is revoked or the user disabled
        raise invalid
    scopes = scope.split()
    auth = Authentication(auth_time=auth_time, acr=acr, amr=json_list(amr), nonce=nonce, sid=session_id)
    return await issue_tokens_tx(provider.settings, tx, client=client, grant_id=grant_id, user=user, scope=scopes,
                                 auth=auth, refresh=wants_refresh(client, scopes))
