"""grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth import errors
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.issuance import Authentication, issue_tokens, revoke_grant
from hospes.oauth.provider import Provider
from hospes.oauth.tokens import digest
from hospes.store.models import Grant, RefreshToken, User

GRANT_TYPE = "refresh_token"


class RefreshReused(Exception):
    """A rotated refresh token came back: the grant is revoked (committed) and the request fails."""


def handle(provider: Provider, s: Session, client: AuthenticatedClient, form: Mapping[str, Sequence[str]],
           one: Any) -> dict[str, Any]:
    token = one("refresh_token")
    if not token:
        raise errors.InvalidRequest("The refresh_token parameter is required.")
    invalid = errors.InvalidGrant("The refresh token is invalid, expired or revoked.")
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is None or row.credential_id != client.id:
        raise invalid
    if row.used_at is not None:
        revoke_grant(s, row.grant_id)
        raise RefreshReused()
    if row.revoked_at is not None or utc(row.expires_at) <= now():
        raise invalid
    grant = s.get(Grant, row.grant_id)
    user = s.get(User, row.user_id)
    if grant is None or grant.revoked_at is not None or user is None or user.disabled:
        raise invalid
    original = row.scope.split()
    requested = scope_table.parse(one("scope"))
    if requested:
        # RFC 6749 §6: the new scope must not exceed the original grant.
        extra = [x for x in requested if x not in original]
        if extra:
            raise errors.InvalidScope(f'The scope "{extra[0]}" was not part of the original grant.')
        scope = requested
    else:
        scope = original
    rotated = s.execute(update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
                        .values(used_at=now()))
    if rotated.rowcount != 1:  # type: ignore[attr-defined]
        revoke_grant(s, row.grant_id)
        raise RefreshReused()
    auth = Authentication(auth_time=row.auth_time, acr=row.acr, amr=list(row.amr or []))
    body = issue_tokens(provider, s, client=client, grant_id=grant.id, user=user, scope=scope, auth=auth,
                        refresh=True, refresh_scope=original)
    return body
