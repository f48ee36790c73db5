"""Minting access and refresh tokens for a grant, and the token response (RFC 6749 §5.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth import id_token
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.provider import Provider
from hospes.oauth.tokens import digest, new_token
from hospes.store.models import AccessToken, Grant, RefreshToken, User


@dataclass(frozen=True)
class Authentication:
    """What the ID token says about how the person logged in."""

    auth_time: int
    acr: str | None
    amr: list[str]
    nonce: str | None = None
    sid: str | None = None


def wants_refresh(client: AuthenticatedClient, scope: list[str]) -> bool:
    policy = client.refresh_token_policy
    return policy == "always" or (policy == "offline_access" and "offline_access" in scope)


def profile_claims(user: User, scope: list[str]) -> dict[str, Any]:
    """OpenID Connect Core §5.4: claims by scope."""
    claims: dict[str, Any] = {}
    if "profile" in scope:
        name = f"{user.first_name} {user.last_name}".strip()
        updated = int(utc(user.updated_at).timestamp()) if user.updated_at else 0
        claims.update(name=name, given_name=user.first_name, family_name=user.last_name, locale=user.locale,
                      updated_at=updated)
    if "email" in scope:
        claims.update(email=user.email, email_verified=bool(user.email_verified))
    return claims


def issue_tokens(
    provider: Provider, s: Session, *, client: AuthenticatedClient, grant_id: int, user: User,
    scope: list[str], auth: Authentication, refresh: bool, refresh_scope: list[str] | None = None,
) -> dict[str, Any]:
    settings = provider.settings
    t = now()
    access = new_token()
    scope_str = " ".join(scope)
    s.add(AccessToken(token_hash=digest(access), grant_id=grant_id, credential_id=client.id, user_id=user.id,
                      scope=scope_str, issued_at=t, expires_at=t + timedelta(seconds=settings.access_token_ttl)))
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl,
        "scope": scope_str,
    }
    if refresh:
        rt = new_token()
        # RFC 6749 §6: a rotated refresh token keeps the scope of the one it replaces.
        s.add(RefreshToken(token_hash=digest(rt), grant_id=grant_id, credential_id=client.id, user_id=user.id,
                           scope=" ".join(refresh_scope) if refresh_scope else scope_str,
                           auth_time=auth.auth_time, acr=auth.acr, amr=list(auth.amr),
                           issued_at=t, expires_at=t + timedelta(seconds=settings.refresh_token_ttl)))
        body["refresh_token"] = rt
    if "openid" in scope:
        body["id_token"] = id_token.issue(
            provider, client_id=client.identifier, sub=user.uuid, auth_time=auth.auth_time,
            alg=client.id_token_signed_response_alg, nonce=auth.nonce, access_token=access,
            acr=auth.acr, amr=auth.amr, sid=auth.sid, extra=profile_claims(user, scope),
        )
    return body


def revoke_grant(s: Session, grant_id: int) -> None:
    """Revoke a grant and every token issued under it (RFC 6749 §4.1.2, RFC 9700 §4.14.2)."""
    t = now()
    s.execute(update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None)).values(revoked_at=t))
    s.execute(update(AccessToken).where(AccessToken.grant_id == grant_id, AccessToken.revoked_at.is_(None))
              .values(revoked_at=t))
    s.execute(update(RefreshToken).where(RefreshToken.grant_id == grant_id, RefreshToken.revoked_at.is_(None))
              .values(revoked_at=t))
