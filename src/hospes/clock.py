"""Time in one place: aware UTC datetimes, and epoch seconds for JWT claims."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def epoch() -> int:
    return int(time.time())


def utc(dt: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; every stored time is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def later(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)
