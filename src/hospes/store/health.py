"""What ``/readyz`` asks the database: can it take a write now, and is its schema the one this code expects."""

from __future__ import annotations

from hospes.store.sql import Tx

# A committed write that changes nothing: the schema's version row rewritten as it is. It needs the write lock
# (SQLite) and a WAL write at commit, so it fails on a full disk or a database that cannot commit, where a
# SELECT 1 still succeeds; and it answers the schema's version in the same round trip.
WRITE_PROBE_SQL = "UPDATE alembic_version SET version_num = version_num RETURNING version_num"


async def write_probe(tx: Tx) -> str | None:
    """The database's schema version (Alembic's), read by writing it back; None when it has none."""
    row = await tx.one(WRITE_PROBE_SQL)
    return str(row[0]) if row is not None else None
