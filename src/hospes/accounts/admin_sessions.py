"""Admin sessions: created at login, ended by logout; the cookie holds a random token, only its digest is stored.

Mirrors ``hospes.accounts.sessions`` for staff. No HTTP here: the admin pages call it with plain values.
An admin session also ends after an hour without use, and the admin's row is read on every request, so a
disabled admin or a changed permission takes effect at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from hospes.accounts.sessions import token_hash
from hospes.secrets import digest, new_token
from hospes.store import sessions as stored
from hospes.store.models import Admin
from hospes.store.sessions import AdminUser

__all__ = ["IDLE_TIMEOUT", "AdminUser", "current", "end", "start"]

# Ends an unattended admin session sooner than a customer's: staff sessions can change every credential.
IDLE_TIMEOUT = timedelta(hours=1)


def start(s: Session, *, admin: Admin, ttl: int, ip: str, user_agent: str) -> str:
    """A new session (never a reused one: no session fixation). Returns the cookie token."""
    token = new_token()
    stored.insert_admin(s, token_hash=digest(token), admin_id=admin.id, ip=ip, user_agent=user_agent, ttl=ttl)
    return token


def current(s: Session, token: str | None) -> AdminUser | None:
    hashed = token_hash(token)
    return stored.admin(s, hashed, IDLE_TIMEOUT) if hashed else None


def end(s: Session, token: str | None) -> None:
    hashed = token_hash(token)
    if hashed:
        stored.end_admin(s, hashed)
