"""/readyz says whether this server can serve, and which check fails: a write commits, the database's schema
is the code's, a signing key is loaded. (A database that does not answer: tests/web/test_database_faults.py.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from hospes.store.db import Database
from hospes.store.migrate import head


def test_a_ready_server_says_so_for_every_check(client: Any) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "keys": "ok"}}


def test_a_database_behind_the_code_is_not_ready_and_says_to_upgrade(client: Any, db: Database) -> None:
    current = head()
    with db.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    r = client.get("/readyz")
    assert r.status_code == 503 and r.headers["retry-after"]
    body = r.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == (f"the database is at revision 0006, this code at {current}: "
                                            "run `hospes db upgrade`")
    with db.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    assert client.get("/readyz").status_code == 200


def test_without_a_signing_key_the_server_is_not_ready(app: Any, client: Any, db: Database) -> None:
    assert client.get("/readyz").status_code == 200  # the keys are loaded
    with db.engine.begin() as c:
        c.execute(text("UPDATE signing_keys SET retired_at = created_at, unpublish_at = created_at"))
    app.web.provider.keys.refresh()  # as the next reload would
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["keys"].startswith("no signing key")

def test_a_database_a_newer_release_migrated_keeps_an_older_node_ready(client: Any, db: Database) -> None:
    """A rolling upgrade (docs/DEPLOYING.md): once the new release's `hospes db upgrade` ran, the old nodes still
    serve, say so on /readyz, and do not try to migrate when they start again."""
    current = head()
    with db.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        r = client.get("/readyz")
        assert r.status_code == 200
        assert r.json()["checks"]["migrations"] == f"ok (the database is at 9999, newer than this code's {current})"
        # What `hospes serve` and every command do first: no attempt to migrate, a warning, no failure.
        from hospes.store.migrate import NewerSchema, upgrade

        try:
            upgrade(db.engine.url.render_as_string(hide_password=False))
        except NewerSchema as exc:
            assert exc.revision == "9999"
        else:
            raise AssertionError("a newer schema was migrated")
    finally:
        with db.engine.begin() as c:
            c.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
