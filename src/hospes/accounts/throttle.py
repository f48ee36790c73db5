"""Failed-attempt throttling (logins, second-factor codes, API secrets, reset mails), kept in the database
so that every node and every worker shares it.

A rule is a window of attempts per key: once ``limit`` attempts that failed (or are still being checked)
fall within ``window`` seconds, the key is refused until the oldest ages out. An attempt is *admitted*
before it is checked: it takes its place in every window it counts against, in the transaction that
counts them, under a lock on those keys; so a burst of N parallel guesses against a limit L checks at most
L of them, and a refused guess is refused before its password is looked at, whatever it is (OWASP
Authentication Cheat Sheet, "Protect Against Automated Attacks":
https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html). An attempt that
succeeds gives its places back (``release``); one that fails leaves them as its failure.

Successful logins do not reset the per-address count (an attacker with one good account must not unlock
guessing at others).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, text
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.i18n import ngettext
from hospes.store.models import LoginFailure
from hospes.store.purge import LOGIN_FAILURES_KEPT

_WINDOWS: list[int] = []


@dataclass(frozen=True)
class Rule:
    prefix: str
    limit: int
    window: int  # seconds

    def __post_init__(self) -> None:
        # The purge (store/purge.py) keeps failures this long: a longer window would lose its oldest.
        if self.window > LOGIN_FAILURES_KEPT.total_seconds():
            raise ValueError(f"throttle window {self.prefix!r} is longer than login failures are kept")
        _WINDOWS.append(self.window)


@dataclass(frozen=True)
class Admission:
    """An attempt's standing: ``wait`` > 0 seconds when refused; else the window rows it now holds."""

    wait: int = 0
    slots: tuple[int, ...] = field(default=())

    @property
    def refused(self) -> bool:
        return self.wait > 0


Check = tuple[Rule, str]

ACCOUNT = Rule("account", limit=5, window=900)
ADDRESS = Rule("address", limit=30, window=900)
# A browser that has logged in to this account before (a device cookie) counts against its own window
# only, so guessing from elsewhere neither locks it out nor is helped by it (OWASP, "Slow Down Online
# Guessing Attacks with Device Cookies": https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies).
DEVICE = Rule("device", limit=5, window=900)


def key(rule: Rule, value: str) -> str:
    return f"{rule.prefix}:{value.lower()}"[:300]


@cache
def _window_counts(n: int) -> Select[str, int, datetime]:
    """Attempts and the oldest one per key, each within its own window: one statement per number of
    keys, built once (building it costs more than running it)."""
    return (select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
            .where(or_(*(and_(LoginFailure.key == bindparam(f"k{i}"), LoginFailure.at > bindparam(f"t{i}"))
                         for i in range(n))))
            .group_by(LoginFailure.key))


_PG_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


def _lock(s: Session, keys: list[str]) -> None:
    """Serialise the attempts on these keys until the transaction ends. SQLite needs nothing: every write
    transaction there already holds the database's one write lock (BEGIN IMMEDIATE, store/db.py).
    PostgreSQL takes a transaction-level advisory lock per key, in a fixed order so that two attempts
    sharing keys cannot deadlock (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for k in sorted(set(keys)):
        # The lock id is a 64-bit hash of the key: a collision only serialises two unrelated keys.
        s.execute(_PG_LOCK, {"k": k})


def _wait(s: Session, checks: list[Check], t: datetime) -> int:
    windows = {key(rule, value): (rule, t - timedelta(seconds=rule.window)) for rule, value in checks}
    params: dict[str, Any] = {}
    for i, (k, (_rule, since)) in enumerate(windows.items()):
        params[f"k{i}"], params[f"t{i}"] = k, since
    wait = 0
    for k, count, oldest in s.execute(_window_counts(len(windows)), params).all():
        rule, since = windows[k]
        if count >= rule.limit and oldest is not None:
            wait = max(wait, int((utc(oldest) - since).total_seconds()) + 1)
    return wait


def admit(s: Session, checks: list[Check]) -> Admission:
    """Let an attempt in, or refuse it. Admitted, it holds a place in each window (counted as a failure
    unless ``release``\\d), committed with the caller's transaction before anything is checked."""
    _lock(s, [key(rule, value) for rule, value in checks])
    t = now()
    wait = _wait(s, checks, t)
    if wait:
        return Admission(wait=wait)
    rows = [LoginFailure(key=key(rule, value), at=t) for rule, value in checks]
    s.add_all(rows)
    # Keep the table small: drop what no window can see any more.
    s.execute(delete(LoginFailure).where(LoginFailure.at < t - timedelta(seconds=max(_WINDOWS))))
    s.flush()
    return Admission(slots=tuple(row.id for row in rows))


def peek(s: Session, checks: list[Check]) -> int:
    """The wait ``admit`` would answer now (0: it would admit), read without a lock and without writing: a flood
    over its limit is turned away before it queues for the write lock. Only ``admit`` lets an attempt in."""
    return _wait(s, checks, now())


def release(s: Session, admission: Admission) -> None:
    """The attempt succeeded: its places are not failures."""
    if admission.slots:
        s.execute(delete(LoginFailure).where(LoginFailure.id.in_(admission.slots)))


def clear(s: Session, rule: Rule, value: str) -> None:
    s.execute(delete(LoginFailure).where(LoginFailure.key == key(rule, value)))


def minutes(wait: int) -> str:
    """A wait in whole minutes, as people read it: "1 minute", "15 minutes"."""
    n = max(1, (wait + 59) // 60)
    return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}
