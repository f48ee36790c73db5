"""Failed-login throttling, per account and per address, shared by every node through the database.

A window of failures per key: after ``limit`` failures within ``window`` seconds, the key is
refused until the oldest failure in the window ages out. Successful logins do not reset the
per-address count (an attacker with one good account must not unlock guessing at others).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.store.models import LoginFailure


@dataclass(frozen=True)
class Rule:
    prefix: str
    limit: int
    window: int  # seconds


ACCOUNT = Rule("account", limit=5, window=900)
ADDRESS = Rule("address", limit=30, window=900)


def _key(rule: Rule, value: str) -> str:
    return f"{rule.prefix}:{value.lower()}"[:300]


@cache
def _window_counts(n: int) -> Select[str, int, datetime]:
    """Failures and the oldest one per key, each within its own window: one statement per number of
    keys, built once (building it is most of the cost of a login's database work otherwise)."""
    return (select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
            .where(or_(*(and_(LoginFailure.key == bindparam(f"k{i}"), LoginFailure.at > bindparam(f"t{i}"))
                         for i in range(n))))
            .group_by(LoginFailure.key))


def retry_after(s: Session, checks: list[tuple[Rule, str]]) -> int:
    """Seconds to wait before another attempt is allowed (0: go ahead). One query for every check."""
    t = now()
    windows = {_key(rule, value): (rule, t - timedelta(seconds=rule.window)) for rule, value in checks}
    params: dict[str, Any] = {}
    for i, (key, (_rule, since)) in enumerate(windows.items()):
        params[f"k{i}"], params[f"t{i}"] = key, since
    rows = s.execute(_window_counts(len(windows)), params).all()
    wait = 0
    for key, count, oldest in rows:
        rule, since = windows[key]
        if count >= rule.limit and oldest is not None:
            wait = max(wait, int((utc(oldest) - since).total_seconds()) + 1)
    return wait


def record_failure(s: Session, checks: list[tuple[Rule, str]]) -> None:
    t = now()
    for rule, value in checks:
        s.add(LoginFailure(key=_key(rule, value), at=t))
    # Keep the table small: drop what no window can see any more.
    horizon = t - timedelta(seconds=max(ACCOUNT.window, ADDRESS.window))
    s.execute(delete(LoginFailure).where(LoginFailure.at < horizon))


def clear(s: Session, rule: Rule, value: str) -> None:
    s.execute(delete(LoginFailure).where(LoginFailure.key == _key(rule, value)))
