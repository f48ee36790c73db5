"""Browser sessions at Hospes: created at login, ended by logout; the cookie holds a random token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.accounts.assurance import Assurance
from hospes.clock import epoch, now, utc
from hospes.oauth.tokens import digest, new_token
from hospes.store.models import LoginSession, User

# Write last_seen at most this often, so reading a session is not a write.
_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class CurrentSession:
    id: int
    sid: str
    user_id: int
    auth_time: int
    acr: str | None
    amr: tuple[str, ...]
    email: str
    first_name: str
    last_name: str


def start(s: Session, *, user: User, ttl: int, assurance: Assurance,
          ip: str, user_agent: str) -> tuple[str, CurrentSession]:
    """A new session (never a reused one: no session fixation). Returns the cookie token and the session
    as ``current`` would read it back."""
    token = new_token()
    t = now()
    sid, auth_time = str(uuid4()), epoch()
    acr, amr = assurance.acr, list(assurance.amr)
    row = LoginSession(
        token_hash=digest(token), sid=sid, user_id=user.id, auth_time=auth_time, amr=amr, acr=acr,
        ip_address=ip[:64], user_agent=user_agent[:512], created_at=t, last_seen_at=t,
        expires_at=t + timedelta(seconds=ttl),
    )
    s.add(row)
    s.flush()
    return token, CurrentSession(
        id=row.id, sid=sid, user_id=user.id, auth_time=auth_time, acr=acr, amr=tuple(amr), email=user.email,
        first_name=user.first_name, last_name=user.last_name)


def current(s: Session, token: str | None) -> CurrentSession | None:
    if not token or len(token) > 100:
        return None
    row = s.execute(
        select(LoginSession, User).join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    sess, user = row
    t = now()
    if sess.ended_at is not None or utc(sess.expires_at) <= t or user.disabled:
        return None
    if t - utc(sess.last_seen_at) > _TOUCH_EVERY:
        sess.last_seen_at = t
    return CurrentSession(
        id=sess.id, sid=sess.sid, user_id=user.id, auth_time=sess.auth_time, acr=sess.acr,
        amr=tuple(sess.amr or ()), email=user.email, first_name=user.first_name, last_name=user.last_name,
    )


def end(s: Session, token: str | None) -> None:
    if token:
        s.execute(update(LoginSession).where(LoginSession.token_hash == digest(token),
                                             LoginSession.ended_at.is_(None)).values(ended_at=now()))


def end_all_for_user(s: Session, user_id: int) -> None:
    s.execute(update(LoginSession).where(LoginSession.user_id == user_id,
                                         LoginSession.ended_at.is_(None)).values(ended_at=now()))
