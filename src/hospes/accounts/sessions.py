"""Browser sessions at Hospes: created at login (accounts/login.py), ended by logout; the cookie holds a random
token, only its digest is stored. The sessions page lists a user's sessions by the browser they are in and
signs them out: ending a session is the same as logging out there, wherever its cookie is presented."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.accounts import twofactor
from hospes.accounts.assurance import PASSWORD, TWO_FACTOR, Assurance
from hospes.clock import epoch, now, utc
from hospes.secrets import digest, new_token
from hospes.store.models import Admin, LoginSession, SessionColumns, User

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

    def strongest_acr(self, s: Session) -> str:
        """The strongest acr a login of this person can reach now: two-factor once enrolled."""
        return TWO_FACTOR.acr if twofactor.is_enrolled(s, self.user_id) else PASSWORD.acr


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


def live(s: Session, token: str | None, model: type[SessionColumns], person: type[User] | type[Admin],
         person_id: Any, idle: timedelta | None = None) -> tuple[Any, Any] | None:
    """The session row behind a cookie value, with its person, while it works: not ended, not expired, the
    person not disabled (and, with ``idle``, used within that long). Its last_seen is written at most every
    five minutes, so reading a session is rarely a write. Customers' and staff's sessions alike."""
    if not token or len(token) > 100:
        return None
    row = s.execute(select(model, person).join(person, person.id == person_id)
                    .where(model.token_hash == digest(token))).first()
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


def current(s: Session, token: str | None) -> CurrentSession | None:
    found = live(s, token, LoginSession, User, LoginSession.user_id)
    if found is None:
        return None
    sess, user = found
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


# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", every browser says "Mozilla".
_BROWSERS = (
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Version/[\d.]+.*Safari/")),
    ("curl", re.compile(r"^curl/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def describe(user_agent: str) -> str:
    """"Firefox on Linux", from a User-Agent header; "Unknown browser" when it says nothing we know."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    return "Unknown browser"


@dataclass(frozen=True)
class ActiveSession:
    """One of a user's sessions as the sessions page lists it: the browser it is in, and where from."""

    id: int
    description: str
    ip_address: str
    started: datetime
    last_seen: datetime
    current: bool
    two_factor: bool


def active(s: Session, user_id: int, current_id: int | None) -> list[ActiveSession]:
    """The user's sessions that still work, the one in use first, then by last seen."""
    t = now()
    rows = s.scalars(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None),
                                                LoginSession.expires_at > t)).all()
    devices = [ActiveSession(id=r.id, description=describe(r.user_agent or ""), ip_address=r.ip_address or "",
                      started=utc(r.created_at), last_seen=utc(r.last_seen_at), current=r.id == current_id,
                      two_factor="otp" in (r.amr or []))
               for r in rows if utc(r.expires_at) > t]
    return sorted(devices, key=lambda d: (not d.current, -d.last_seen.timestamp(), -d.id))


def sign_out(s: Session, user_id: int, session_id: int) -> bool:
    """Sign out one of the user's sessions; False when it is not theirs, or already ended."""
    done = s.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user_id,
                                                LoginSession.ended_at.is_(None)).values(ended_at=now()))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def sign_out_others(s: Session, user_id: int, keep_id: int) -> int:
    """Sign out every session of the user except ``keep_id`` (all of them: ``end_all_for_user``)."""
    done = s.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.id != keep_id,
                                                LoginSession.ended_at.is_(None)).values(ended_at=now()))
    return int(done.rowcount)  # type: ignore[attr-defined]
