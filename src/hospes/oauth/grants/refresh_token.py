"""grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import Any

from hospes.clock import now
from hospes.oauth import errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.issuance import (
    GRANT_AND_PERSON_COLUMNS,
    Authentication,
    Issued,
    Refused,
    active_person,
    issue_tokens_tx,
    refuse_reuse,
)
from hospes.oauth.provider import Provider
from hospes.oauth.tokens import digest
from hospes.store.sql import Tx, aware, json_list

GRANT_TYPE = "refresh_token"

REFRESH_SQL = (
    "SELECT t.id, t.grant_id, t.credential_id, t.scope, t.auth_time, t.acr, t.amr, t.expires_at, t.used_at, "  # noqa: S608 (constant text)
    f"t.revoked_at, {GRANT_AND_PERSON_COLUMNS} FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id "
    "JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s"
)


async def handle(provider: Provider, tx: Tx, client: AuthenticatedClient, one: Any) -> Issued | Refused:
    token = one("refresh_token")
    if not token:
        raise errors.InvalidRequest("The refresh_token parameter is required.")
    invalid = errors.InvalidGrant("The refresh token is invalid, expired or revoked.")
    row = await tx.one(REFRESH_SQL, digest(token))
    if row is None:
        raise invalid
    rt_id, grant_id, credential_id, scope, auth_time, acr, amr, expires_at, used_at, revoked_at = row[:10]
    if credential_id != client.id:
        raise invalid
    if used_at is not None:
        # RFC 9700 §4.14.2: a rotated refresh token presented again revokes the grant.
        return await refuse_reuse(tx, grant_id)
    t = now()
    expires = aware(expires_at)
    if revoked_at is not None or expires is None or expires <= t:
        raise invalid
    user = active_person(row[10:])
    if user is None:  # the grant is revoked or the user disabled
        raise invalid
    original = scope.split()
    requested = scope_table.parse(one("scope"))
    if requested:
        # RFC 6749 §6: the new scope must not exceed the original grant.
        extra = [x for x in requested if x not in original]
        if extra:
            raise errors.InvalidScope(f'The scope "{extra[0]}" was not part of the original grant.')
        scopes = requested
    else:
        scopes = original
    rotated = await tx.execute("UPDATE refresh_tokens SET used_at = %s WHERE id = %s AND used_at IS NULL",
                               tx.ts(t), rt_id)
    if rotated != 1:
        return await refuse_reuse(tx, grant_id)
    auth = Authentication(auth_time=auth_time, acr=acr, amr=json_list(amr))
    return await issue_tokens_tx(provider.settings, tx, client=client, grant_id=grant_id, user=user, scope=scopes,
                                 auth=auth, refresh=True, refresh_scope=original)
