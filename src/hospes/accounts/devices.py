"""A user's active login sessions seen as devices: list them, sign one out, sign out all the others.

Ending a session here is the same as logging out on that device: the session row is marked ended, so the
cookie that device holds stops working at once, wherever it is presented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.store.models import LoginSession

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
class Device:
    id: int
    description: str
    ip_address: str
    started: datetime
    last_seen: datetime
    current: bool
    two_factor: bool


def active(s: Session, user_id: int, current_id: int | None) -> list[Device]:
    """The user's sessions that still work, the one in use first, then by last seen."""
    t = now()
    rows = s.scalars(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None),
                                                LoginSession.expires_at > t)).all()
    devices = [Device(id=r.id, description=describe(r.user_agent or ""), ip_address=r.ip_address or "",
                      started=utc(r.created_at), last_seen=utc(r.last_seen_at), current=r.id == current_id,
                      two_factor="otp" in (r.amr or []))
               for r in rows if utc(r.expires_at) > t]
    return sorted(devices, key=lambda d: (not d.current, -d.last_seen.timestamp(), -d.id))


def end(s: Session, user_id: int, session_id: int) -> bool:
    """Sign out one of the user's sessions; False when it is not theirs, or already ended."""
    done = s.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user_id,
                                                LoginSession.ended_at.is_(None)).values(ended_at=now()))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def end_others(s: Session, user_id: int, keep_id: int) -> int:
    """Sign out every session of the user except ``keep_id`` (all of them: ``sessions.end_all_for_user``)."""
    done = s.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.id != keep_id,
                                                LoginSession.ended_at.is_(None)).values(ended_at=now()))
    return int(done.rowcount)  # type: ignore[attr-defined]
