"""Browser sessions as stored: a customer's (``login_sessions``) and a staff member's (``admin_sessions``),
each found by the digest of its cookie token, with the person behind it, as named rows.

A session works while it is not ended, not expired, its person not disabled and, where an idle limit
applies, used within that long; this module is the one place that rule is written. Its last_seen is
written at most every five minutes, so reading a session is rarely a write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.store.models import Admin, AdminSession, LoginSession, SessionColumns, User

# Write last_seen at most this often, so reading a session is not a write.
_TOUCH_EVERY = timedelta(minutes=5)

Row = TypeVar("Row", bound="SessionRow")


@dataclass(frozen=True)
class SessionRow:
    """A customer's working session and the person in it (accounts/sessions.py's CurrentSession adds what
    a login could reach)."""

    id: int
    sid: str
    user_id: int
    auth_time: int
    acr: str | None
    amr: tuple[str, ...]
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class AdminUser:
    """The admin behind a working staff session."""

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


class SessionListing(NamedTuple):
    """One of a customer's sessions that still works, as the sessions page lists it."""

    id: int
    user_agent: str
    ip_address: str
    created_at: datetime
    last_seen_at: datetime
    amr: tuple[str, ...]


def _live(s: Session, token_hash: bytes, model: type[SessionColumns], person: type[User] | type[Admin],
          person_id: Any, idle: timedelta | None) -> tuple[Any, Any] | None:
    row = s.execute(select(model, person).join(person, person.id == person_id)
                    .where(model.token_hash == token_hash)).first()
    if row is None:
        return None
    sess, who = cast("tuple[SessionColumns, User | Admin]", tuple(row))
    t = now()
    if (sess.ended_at is not None or utc(sess.expires_at) <= t or who.disabled
            or (idle is not None and t - utc(sess.last_seen_at) > idle)):
        return None
    if t - utc(sess.last_seen_at) > _TOUCH_EVERY:
        sess.last_seen_at = t
    return sess, who


def customer(s: Session, token_hash: bytes, row: type[Row]) -> Row | None:
    """The working session behind the digest, built as ``row``."""
    found = _live(s, token_hash, LoginSession, User, LoginSession.user_id, None)
    if found is None:
        return None
    sess, user = found
    return row(
        id=sess.id, sid=sess.sid, user_id=user.id, auth_time=sess.auth_time, acr=sess.acr,
        amr=tuple(sess.amr or ()), email=user.email, first_name=user.first_name, last_name=user.last_name)


def admin(s: Session, token_hash: bytes, idle: timedelta) -> AdminUser | None:
    found = _live(s, token_hash, AdminSession, Admin, AdminSession.admin_id, idle)
    if found is None:
        return None
    sess, who = found
    return AdminUser(session_id=sess.id, id=who.id, username=who.username, email=who.email,
                     permissions=tuple(who.permissions or ()))


def insert_customer(s: Session, *, token_hash: bytes, sid: str, user: User, auth_time: int, acr: str | None,
                    amr: Sequence[str], ip: str, user_agent: str, ttl: int, row: type[Row]) -> Row:
    t = now()
    added = LoginSession(
        token_hash=token_hash, sid=sid, user_id=user.id, auth_time=auth_time, amr=list(amr), acr=acr,
        ip_address=ip[:64], user_agent=user_agent[:512], created_at=t, last_seen_at=t,
        expires_at=t + timedelta(seconds=ttl))
    s.add(added)
    s.flush()
    return row(id=added.id, sid=sid, user_id=user.id, auth_time=auth_time, acr=acr, amr=tuple(amr),
                          email=user.email, first_name=user.first_name, last_name=user.last_name)


def insert_admin(s: Session, *, token_hash: bytes, admin_id: int, ip: str, user_agent: str, ttl: int) -> None:
    t = now()
    s.add(AdminSession(token_hash=token_hash, admin_id=admin_id, ip_address=ip[:64], user_agent=user_agent[:512],
                       created_at=t, last_seen_at=t, expires_at=t + timedelta(seconds=ttl)))


def _end(s: Session, model: type[LoginSession] | type[AdminSession], *where: Any) -> int:
    done = s.execute(update(model).where(model.ended_at.is_(None), *where).values(ended_at=now()))
    return int(done.rowcount)  # type: ignore[attr-defined]


def _end_customer(s: Session, *where: Any) -> list[str]:
    """End the customer sessions that match and still run; their ``sid``s (back-channel logout tells the
    clients used in them)."""
    done = s.execute(update(LoginSession).where(LoginSession.ended_at.is_(None), *where)
                     .values(ended_at=now()).returning(LoginSession.sid))
    return [sid for (sid,) in done]


def end_customer(s: Session, token_hash: bytes) -> list[str]:
    return _end_customer(s, LoginSession.token_hash == token_hash)


def end_admin(s: Session, token_hash: bytes) -> None:
    _end(s, AdminSession, AdminSession.token_hash == token_hash)


def end_for_admin(s: Session, admin_id: int) -> int:
    """End every session of an admin (disabled, password reset); how many ended."""
    return _end(s, AdminSession, AdminSession.admin_id == admin_id)


def end_for_user(s: Session, user_id: int, *, session_id: int | None = None,
                 except_id: int | None = None) -> list[str]:
    """End the user's sessions (only ``session_id``, or all but ``except_id``, when given); the ``sid`` of
    each that ended."""
    where = [LoginSession.user_id == user_id]
    if session_id is not None:
        where.append(LoginSession.id == session_id)
    if except_id is not None:
        where.append(LoginSession.id != except_id)
    return _end_customer(s, *where)


def listed(s: Session, user_id: int) -> list[SessionListing]:
    """The user's sessions that still work (not ended, not expired), in no particular order."""
    t = now()
    rows = s.scalars(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None),
                                                LoginSession.expires_at > t)).all()
    return [SessionListing(r.id, r.user_agent or "", r.ip_address or "", utc(r.created_at), utc(r.last_seen_at),
                           tuple(r.amr or ())) for r in rows if utc(r.expires_at) > t]
