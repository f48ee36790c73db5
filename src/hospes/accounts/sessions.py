"""Browser sessions at Hospes: created at login (accounts/login.py), ended by logout; the cookie holds a random
token, only its digest is stored. The sessions page lists a user's sessions by the browser they are in and
signs them out: ending a session is the same as logging out there, wherever its cookie is presented. Every
way a session ends queues a back-channel logout to the clients used in it (oauth/backchannel.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy.orm import Session

from hospes.accounts import twofactor
from hospes.accounts.assurance import PASSWORD, TWO_FACTOR, Assurance
from hospes.clock import epoch
from hospes.i18n import _
from hospes.oauth import backchannel
from hospes.secrets import digest, new_token
from hospes.store import sessions as stored
from hospes.store.models import User
from hospes.store.sessions import SessionRow

__all__ = ["CurrentSession", "active", "current", "describe", "end", "end_all_for_user", "sign_out",
           "sign_out_others", "start"]

# A cookie value longer than this is no token of ours: not even digested.
_TOKEN_MAX = 100


@dataclass(frozen=True)
class CurrentSession(SessionRow):
    """A customer's working session, as the authorization endpoint and the pages use it."""

    def strongest_acr(self, s: Session) -> str:
        """The strongest acr a login of this person can reach now: two-factor once enrolled."""
        return TWO_FACTOR.acr if twofactor.is_enrolled(s, self.user_id) else PASSWORD.acr


def start(s: Session, *, user: User, ttl: int, assurance: Assurance,
          ip: str, user_agent: str) -> tuple[str, CurrentSession]:
    """A new session (never a reused one: no session fixation). Returns the cookie token and the session
    as ``current`` would read it back."""
    token = new_token()
    return token, stored.insert_customer(s, token_hash=digest(token), sid=str(uuid4()), user=user,
                                         auth_time=epoch(), acr=assurance.acr, amr=assurance.amr, ip=ip,
                                         user_agent=user_agent, ttl=ttl, row=CurrentSession)


def token_hash(token: str | None) -> bytes | None:
    """The stored digest of a cookie value that could be a session token (customers' and staff's alike)."""
    return digest(token) if token and len(token) <= _TOKEN_MAX else None


def current(s: Session, token: str | None) -> CurrentSession | None:
    hashed = token_hash(token)
    return stored.customer(s, hashed, CurrentSession) if hashed else None


def end(s: Session, token: str | None) -> None:
    hashed = token_hash(token)
    if hashed:
        backchannel.session_ended(s, stored.end_customer(s, hashed))


def end_all_for_user(s: Session, user_id: int) -> int:
    """End every session of the user (each queues its back-channel logout); how many ended."""
    ended = stored.end_for_user(s, user_id)
    backchannel.session_ended(s, ended)
    return len(ended)


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
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if browser or system:
        return browser or _("A browser on %(system)s") % {"system": system}
    return _("Unknown browser")


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
    found = [ActiveSession(id=r.id, description=describe(r.user_agent), ip_address=r.ip_address,
                           started=r.created_at, last_seen=r.last_seen_at, current=r.id == current_id,
                           two_factor="otp" in r.amr)
             for r in stored.listed(s, user_id)]
    return sorted(found, key=lambda d: (not d.current, -d.last_seen.timestamp(), -d.id))


def sign_out(s: Session, user_id: int, session_id: int) -> bool:
    """Sign out one of the user's sessions; False when it is not theirs, or already ended."""
    ended = stored.end_for_user(s, user_id, session_id=session_id)
    backchannel.session_ended(s, ended)
    return len(ended) == 1


def sign_out_others(s: Session, user_id: int, keep_id: int) -> int:
    """Sign out every session of the user except ``keep_id`` (all of them: ``end_all_for_user``)."""
    ended = stored.end_for_user(s, user_id, except_id=keep_id)
    backchannel.session_ended(s, ended)
    return len(ended)
