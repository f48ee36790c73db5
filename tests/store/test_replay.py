"""store/replay.py: a JWT id is used once, on one node or many (RFC 7523 §3, RFC 9449 §11.1)."""

from __future__ import annotations

import threading
from datetime import timedelta

from hospes.clock import now
from hospes.store import replay
from hospes.store.sql import drive, session_tx


def use(db, digest, expires, at=None) -> bool:
    with db.transaction() as s:
        return drive(replay.first_use(session_tx(s), replay.CLIENT_ASSERTION, digest, expires, at=at or now()))


def test_the_first_use_wins_and_an_expired_one_is_taken_over(db):
    t = now()
    d = replay.key("client-a", "jti-1")
    assert use(db, d, t + timedelta(seconds=60)) is True
    assert use(db, d, t + timedelta(seconds=60)) is False
    # Another client's id of the same text is its own.
    assert use(db, replay.key("client-b", "jti-1"), t + timedelta(seconds=60)) is True
    # Once its JWT has expired, the row no longer refuses (the JWT's own exp does).
    assert use(db, d, t + timedelta(seconds=200), at=t + timedelta(seconds=61)) is True
    assert use(db, d, t + timedelta(seconds=200), at=t + timedelta(seconds=62)) is False


def test_of_many_concurrent_uses_exactly_one_is_first(db):
    # Each thread its own connection and transaction: on PostgreSQL, as two nodes would be.
    d = replay.key("client-a", "raced")
    expires = now() + timedelta(seconds=60)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def race() -> None:
        barrier.wait()
        results.append(use(db, d, expires))

    threads = [threading.Thread(target=race) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 5 + [True]
