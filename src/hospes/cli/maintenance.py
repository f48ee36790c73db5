"""``hospes purge``, ``hospes backup`` and ``hospes restore``: the database's upkeep (docs/OPERATIONS.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from hospes.cli.common import JsonOpt, database, emit, fail, settings, upgrade_or_fail


def purge(as_json: JsonOpt = False) -> None:
    """Delete expired, revoked and used rows now (the server also does it by itself, every
    HOSPES_PURGE_INTERVAL seconds), keeping each HOSPES_PURGE_GRACE seconds after it died, and audit entries
    older than HOSPES_AUDIT_RETENTION_DAYS."""
    from sqlalchemy.exc import SQLAlchemyError

    from hospes.store.purge import purge as purge_all

    s = settings()
    with database() as db:
        try:
            counts = purge_all(db, grace=timedelta(seconds=s.purge_grace), batch=s.purge_batch,
                               unused=timedelta(days=s.registration_unused_days), audit_kept=s.audit_retention)
        except SQLAlchemyError as exc:
            fail(f"purge stopped: {str(exc).splitlines()[0]}")
    text = "\n".join(f"{table}\t{n}" for table, n in counts.items())
    emit({"purged": counts, "total": sum(counts.values())}, as_json, text)


def backup(
    output: Annotated[Path, typer.Option("--output", help="The file to write (replaced if it exists).")],
    as_json: JsonOpt = False,
) -> None:
    """A consistent copy of the database while it serves (SQLite: the online backup API; PostgreSQL:
    pg_dump). Keep the secret key with it: see docs/OPERATIONS.md, Backup and restore."""
    from hospes.store.backup import BackupError
    from hospes.store.backup import backup as copy

    s = settings()
    try:
        made = copy(s.sqlalchemy_url, output)
    except (BackupError, OSError) as exc:
        fail(f"backup failed: {exc}")
    emit(made._asdict(), as_json, f"Backed up the {made.database} database to {made.path} ({made.bytes} bytes).")


def restore(
    source: Annotated[Path, typer.Option("--input", help="A file `hospes backup` wrote.")],
    revoke_tokens: Annotated[bool, typer.Option(
        "--revoke-tokens", help="Revoke every grant and token restored, so that none revoked or rotated "
                                "since the backup works again (every application asks its users to log in).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a backup into the configured database, which must be new or empty; then apply migrations."""
    from hospes.clock import now
    from hospes.store.backup import BackupError
    from hospes.store.backup import restore as put_back
    from hospes.store.grants import revoke_every_grant
    from hospes.store.sql import drive, session_tx

    s = settings()
    try:
        made = put_back(s.sqlalchemy_url, source)
    except (BackupError, OSError) as exc:
        fail(f"restore failed: {exc}")
    upgrade_or_fail(s)  # a backup of an older release is brought up to this one
    revoked = 0
    if revoke_tokens:
        with database() as db, db.transaction() as session:
            revoked = drive(revoke_every_grant(session_tx(session), now()))
    text = f"Restored the {made.database} database from {source}."
    if revoke_tokens:
        text += f" Revoked {revoked} grants and their tokens."
    emit({"database": made.database, "input": str(source), "grantsRevoked": revoked}, as_json, text)
