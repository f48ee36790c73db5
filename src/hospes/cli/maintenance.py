"""``hospes purge``: the database's upkeep (docs/OPERATIONS.md)."""

from __future__ import annotations

from datetime import timedelta

from hospes.cli.common import JsonOpt, database, emit, settings


def purge(as_json: JsonOpt = False) -> None:
    """Delete expired, revoked and used rows now (the server also does it by itself, every
    HOSPES_PURGE_INTERVAL seconds), keeping each HOSPES_PURGE_GRACE seconds after it died."""
    from hospes.store.purge import purge as purge_all

    s = settings()
    with database() as db:
        counts = purge_all(db, grace=timedelta(seconds=s.purge_grace), batch=s.purge_batch)
    text = "\n".join(f"{table}\t{n}" for table, n in counts.items())
    emit({"purged": counts, "total": sum(counts.values())}, as_json, text)
