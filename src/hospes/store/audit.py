"""The audit log's rows in plain SQL, for units of work on the writer (the token and revocation endpoints),
which have no ORM session: ``AuditRow``, and the INSERT written alone or in front of another INSERT (on
PostgreSQL a data-modifying WITH, so the entry costs no round trip of its own; store/grants.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from hospes.store.sql import Tx


class AuditRow(NamedTuple):
    """An entry as audit.py made it (checked and scrubbed there)."""

    at: datetime
    actor: str
    action: str
    target: str
    ip_address: str
    details: dict[str, Any]
    request_id: str | None
    client_id: str | None


_COLUMNS = "at, actor, action, target, ip_address, details, request_id, client_id"
INSERT = f"INSERT INTO audit_events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608 (constant)


def values(tx: Tx, row: AuditRow) -> tuple[Any, ...]:
    return (tx.ts(row.at), row.actor, row.action, row.target, row.ip_address, tx.json(row.details), row.request_id,
            row.client_id)


async def insert(tx: Tx, row: AuditRow) -> None:
    await tx.execute(INSERT, *values(tx, row))


async def insert_with(tx: Tx, row: AuditRow | None, sql: str, *params: Any) -> int:
    """Run ``sql`` (an INSERT) and, when ``row`` is given, write the entry in the same unit: on PostgreSQL as
    one statement (``WITH audit AS (INSERT …) sql``), on SQLite (in-process, no round trip) as two."""
    if row is None:
        return await tx.execute(sql, *params)
    if tx.sqlite:
        await insert(tx, row)
        return await tx.execute(sql, *params)
    return await tx.execute(f"WITH audit AS ({INSERT}) {sql}", *values(tx, row), *params)
