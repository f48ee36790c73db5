"""Looking up an access token: the one check userinfo and introspection share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth.tokens import digest
from hospes.store.models import AccessToken, Grant, OAuthCredential, RefreshToken, User


@dataclass(frozen=True)
class ActiveToken:
    kind: str  # "access_token" | "refresh_token"
    id: int
    grant_id: int
    credential_id: int
    client_identifier: str
    user: User
    scope: list[str]
    issued_at: datetime
    expires_at: datetime


def find_access_token(s: Session, token: str) -> ActiveToken | None:
    """An unexpired, unrevoked access token of an unrevoked grant, with its user; else None."""
    if not token or len(token) > 512:
        return None
    row = s.execute(
        select(AccessToken, User, OAuthCredential.identifier, Grant.revoked_at)
        .join(User, User.id == AccessToken.user_id)
        .join(Grant, Grant.id == AccessToken.grant_id)
        .join(OAuthCredential, OAuthCredential.id == AccessToken.credential_id)
        .where(AccessToken.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    at, user, identifier, grant_revoked = row
    if at.revoked_at is not None or grant_revoked is not None or utc(at.expires_at) <= now() or user.disabled:
        return None
    return ActiveToken("access_token", at.id, at.grant_id, at.credential_id, identifier, user,
                       at.scope.split(), utc(at.issued_at), utc(at.expires_at))


def find_refresh_token(s: Session, token: str) -> ActiveToken | None:
    if not token or len(token) > 512:
        return None
    row = s.execute(
        select(RefreshToken, User, OAuthCredential.identifier, Grant.revoked_at)
        .join(User, User.id == RefreshToken.user_id)
        .join(Grant, Grant.id == RefreshToken.grant_id)
        .join(OAuthCredential, OAuthCredential.id == RefreshToken.credential_id)
        .where(RefreshToken.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    rt, user, identifier, grant_revoked = row
    if (rt.revoked_at is not None or rt.used_at is not None or grant_revoked is not None
            or utc(rt.expires_at) <= now() or user.disabled):
        return None
    return ActiveToken("refresh_token", rt.id, rt.grant_id, rt.credential_id, identifier, user,
                       rt.scope.split(), utc(rt.issued_at), utc(rt.expires_at))
