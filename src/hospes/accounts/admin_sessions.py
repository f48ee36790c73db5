"""Admin sessions: created at login, ended by logout; the cookie holds a random token, only its digest is stored.

Mirrors ``hospes.accounts.sessions`` for staff. No HTTP here: the admin pages call it with plain values.
An admin session also ends after an hour without use, and the admin's row is read on every request, so a
disabled admin or a changed permission takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth.tokens import digest, new_token
from hospes.store.models import Admin, AdminSession

# Ends an unattended admin session sooner than a customer's: staff sessions can change every credential.
IDLE_TIMEOUT = timedelta(hours=1)
# Write last_seen at most this often, so reading a session is rarely a write.
_TOUCH_EVERY = timedelta(minutes=5)


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
    if not token or len(token) > 100:
        return None
    row = s.execute(
        select(AdminSession, Admin).join(Admin, Admin.id == AdminSession.admin_id)
        .where(AdminSession.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    sess, admin = row
    t = now()
    if (sess.ended_at is not None or utc(sess.expires_at) <= t or admin.disabled
            or t - utc(sess.last_seen_at) > IDLE_TIMEOUT):
        return None
    if t - utc(sess.last_seen_at) > _TOUCH_EVERY:
        sess.last_seen_at = t
    return AdminUser(session_id=sess.id, id=admin.id, username=admin.username, email=admin.email,
                     permissions=tuple(admin.permissions or ()))


def end(s: Session, token: str | None) -> None:
    if token and len(token) <= 100:
        s.execute(update(AdminSession).where(AdminSession.token_hash == digest(token),
                                             AdminSession.ended_at.is_(None)).values(ended_at=now()))
