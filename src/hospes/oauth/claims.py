"""The standard claims a scope releases (OpenID Connect Core §5.4), for the ID token and userinfo alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hospes.clock import utc


class Profile(Protocol):
    """What the profile and email claims come from: a User, or the userinfo lookup's row."""

    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def email_verified(self) -> bool: ...
    @property
    def updated_at(self) -> datetime | None: ...


def profile_claims(user: Profile, scope: list[str]) -> dict[str, Any]:
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
