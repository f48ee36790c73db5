"""Time in one place: aware UTC datetimes, epoch seconds for JWT claims, and the days filters name."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as daytime

# The days a filter may name: one day inside Python's calendar at each end, so the start and the end of any of
# them (and a day either side) are still datetimes in UTC.
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)


def now() -> datetime:
    return datetime.now(UTC)


def epoch() -> int:
    return int(time.time())


def utc(dt: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; every stored time is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def later(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)


class Clock:
    """The wall clock (decisions every node makes alike from stored times) and the monotonic clock (how long
    since something happened here), as one object a test can replace with a clock it moves by hand."""

    # The functions themselves, not wrappers: a key ring reads them on every token and JWKS request.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)  # after monotonic: from here on, `time` in this class is this


SYSTEM = Clock()


def day(value: str) -> date | None:
    """A calendar day written YYYY-MM-DD (ISO 8601's extended form, ASCII digits); None when it is not one
    or lies outside FIRST_DAY..LAST_DAY."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if FIRST_DAY <= parsed <= LAST_DAY else None


def day_start(d: date) -> datetime:
    """The first instant of a day in UTC."""
    return datetime.combine(d, daytime.min, UTC)


def day_end(d: date) -> datetime:
    """The last instant of a day in UTC (a range "to" this day takes in the whole day)."""
    return day_start(d) + timedelta(days=1) - timedelta(microseconds=1)
