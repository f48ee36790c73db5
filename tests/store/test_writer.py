"""The token endpoint's writer (store/writer.py): every unit committed before its answer, a failing unit
undone alone, on SQLite (group commit) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from hospes.clock import now
from hospes.store.db import Database
from hospes.store.sql import Tx
from tests import aio


class Boom(Exception):
    pass


@pytest.fixture
def owner(make_account: Any, make_credential: Any) -> tuple[int, int]:
    """A user and a credential for the grants these tests write."""
    return make_account().user_id, make_credential().credential_id


async def _insert(tx: Tx, owner: tuple[int, int], scope: str) -> None:
    await tx.execute("INSERT INTO grants (credential_id, user_id, scope, created_at) VALUES (%s, %s, %s, %s)",
               owner[1], owner[0], scope, tx.ts(now()))


def _scopes(db: Database) -> list[str]:
    with db.engine.connect() as c:
        return sorted(r[0] for r in c.execute(text("SELECT scope FROM grants")))


def test_concurrent_units_commit_and_a_failing_one_is_undone_alone(db: Database, owner: tuple[int, int]):
    def unit(i: int) -> Any:
        async def run(tx: Tx) -> int:
            await _insert(tx, owner, f"s{i:02d}")
            if i == 7:
                raise Boom()  # after its insert: the insert must not survive
            return i
        return run

    async def main() -> list[object]:
        return await asyncio.gather(*(db.writer.run(unit(i)) for i in range(20)), return_exceptions=True)

    results = aio.run(main())
    assert isinstance(results[7], Boom)
    assert [r for i, r in enumerate(results) if i != 7] == [i for i in range(20) if i != 7]
    # Answered only after the commit: a new connection sees every row but the failed one.
    assert _scopes(db) == [f"s{i:02d}" for i in range(20) if i != 7]


def test_a_unit_reads_its_own_writes_and_returns_after_commit(db: Database, owner: tuple[int, int]):
    async def unit(tx: Tx) -> int:
        await _insert(tx, owner, "mine")
        row = await tx.one("SELECT count(*) FROM grants WHERE scope = %s", "mine")
        assert row is not None
        return int(row[0])

    assert aio.run(db.writer.run(unit)) == 1
    assert db.writer.run_sync(unit) == 2
    assert _scopes(db) == ["mine", "mine"]
