"""Admin sessions: created at login, ended by logout; the cookie holds a random token, only its digest is stored.

Mirrors ``hospes.accounts.sessions`` for staff. No HTTP here: the admin pages call it with plain values.
An admin session also ends after an hour without use, and the admin's row is read on every request, so a
disabled admin or a changed permission takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from hospes.accounts.sessions import live
from hospes.clock import now
from hospes.secrets import digest, new_token
from hospes.store.models import Admin, AdminSession

# Ends an unattended admin session sooner than a customer's: staff sessions can change every credential.
IDLE_TIMEOUT = timedelta(hours=1)


@dataclass(frozen=True)
class AdminUser:
    """The admin behind a live session."""

    session_id: int
    id: int
    username: str
    email: str
    permissions: tuple[str, ...]

    @property
    def full(self) -> bool:
        """An empty permission list means a full administrator."""
        return not self.permissions

    def has(self, permission: str) -> bool:
        return self.full or permission in self.permissions

    @property
    def actor(self) -> str:
        """How the audit log names this admin."""
        return f"admin:{self.username}"


def start(s: Session, *, admin: Admin, ttl: int, ip: str, user_agent: str) -> str:
    """A new session (never a reused one: no session fixation). Returns the cookie token."""
    token = new_token()
    t = now()
    s.add(AdminSession(
        token_hash=digest(token), admin_id=admin.id, ip_address=ip[:64], user_agent=user_agent[:512],
        created_at=t, last_seen_at=t, expires_at=t + timedelta(seconds=ttl),
    ))
    return token


def current(s: Session, token: str | None) -> AdminUser | None:
    found = live(s, token, AdminSession, Admin, AdminSession.admin_id, idle=IDLE_TIMEOUT)
    if found is None:
        return None
    sess, admin = found
    return AdminUser(session_id=sess.id, id=admin.id, username=admin.username, email=admin.email,
                     permissions=tuple(admin.permissions or ()))


def end(s: Session, token: str | None) -> None:
    if token and len(token) <= 100:
        s.execute(update(AdminSession).where(AdminSession.token_hash == digest(token),
                                             AdminSession.ended_at.is_(None)).values(ended_at=now()))
