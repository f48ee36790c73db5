"""Purging: rows nobody can use any more, deleted in bounded batches.

A row dies when it expires, is revoked, ends or is used up; it is kept ``grace`` longer (HOSPES_PURGE_GRACE)
and then deleted. What each table keeps, and why (docs/OPERATIONS.md, "What is kept, and for how long"):

- authorization codes until their expiry + grace, used or not: a used code presented again revokes its
  grant (RFC 6749 §4.1.2), which needs the code's row; a used one of a client with a back-channel logout URI
  also while the login session it was redeemed in still runs: it is what tells back-channel logout which
  clients to tell (store/backchannel.py);
- access tokens until their expiry or revocation + grace;
- refresh tokens likewise; a rotated one stays while it has not expired and its grant is not revoked
  (revoking a grant revokes every token under it), as presenting it again revokes the grant (RFC 9700
  §4.14.2);
- grants once nothing is issued under them any more (no code, no token) and they are older than grace;
- customers' and staff's sessions once ended or expired + grace; single sign-on tokens, password-reset links
  and email-verification links once expired + grace (used ones too: they expire soon after);
- login_failures (the throttle's windows) once older than ``LOGIN_FAILURES_KEPT``, which no window exceeds;
- clients that registered themselves (RFC 7591, oauth/registration.py) once unused: no grant left (grants go
  as above), and neither created nor sent through an authorization for ``unused`` (HOSPES_REGISTRATION_UNUSED_DAYS);
  their consents go with them (ON DELETE CASCADE);
- initial access tokens for registration once expired + grace, or used up;
- back-channel logout deliveries (oauth/backchannel.py) once delivered or given up for ``DELIVERIES_KEPT``
  (the admin area lists the recent ones); pending ones are never purged (they finish within the hour);
- seen JWT ids (store/replay.py) once the JWT they came in has expired (no grace: an expired JWT is refused
  by its own ``exp``, and the row's only use was to refuse it sooner).

Kept for good: accounts, the clients the operator made, consents (one per person and application), the audit
log and the email history (records), signing keys (oauth/keys.py retires them).

Each batch is one short transaction: ``DELETE … WHERE id IN (SELECT id … LIMIT n)``. On PostgreSQL the
selection is ``FOR UPDATE SKIP LOCKED``, so workers and nodes purging at once take different rows and never
wait for a row a request holds; on SQLite each batch takes the writer gate once, briefly, so the token
endpoint waits at most one batch.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hospes.clock import now
from hospes.store.sql import Tx, drive, session_tx

if TYPE_CHECKING:
    from hospes.store.db import Database

log = logging.getLogger("hospes.purge")

# The longest window accounts/throttle.py may count failures in (a Rule longer than this is refused).
LOGIN_FAILURES_KEPT = timedelta(hours=1)
# How long a finished back-channel logout delivery stays listed in the admin area.
DELIVERIES_KEPT = timedelta(days=7)
# A pass of the server's background purge stops a table after this many batches, to come back next pass.
BATCHES_PER_PASS = 100
# Between two batches of the background purge: room for the writes of requests.
_PAUSE_S = 0.01

# Dead rows of each table, in the order they are purged (tokens before the grants they belong to).
# Parameters: %(cutoff)s = now - grace; %(failures)s = now - LOGIN_FAILURES_KEPT.
_DEAD: dict[str, str] = {
    "authorization_codes": ("x.expires_at < %(cutoff)s AND (x.used_at IS NULL OR x.session_id IS NULL OR NOT EXISTS "
                            "(SELECT 1 FROM login_sessions l, oauth_credentials c WHERE l.sid = x.session_id "
                            "AND l.ended_at IS NULL AND l.expires_at > %(now)s AND c.id = x.credential_id "
                            "AND c.backchannel_logout_uri IS NOT NULL))"),
    "access_tokens": "expires_at < %(cutoff)s OR revoked_at < %(cutoff)s",
    "refresh_tokens": "expires_at < %(cutoff)s OR revoked_at < %(cutoff)s",
    # No code, no token, and old enough that its code (created with it) would have gone. access_tokens and
    # refresh_tokens are indexed by grant_id; authorization_codes is not, so one NOT IN reads it once.
    "grants": ("created_at < %(cutoff)s "
               "AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = x.id) "
               "AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = x.id) "
               "AND x.id NOT IN (SELECT c.grant_id FROM authorization_codes c)"),
    "login_sessions": "expires_at < %(cutoff)s OR ended_at < %(cutoff)s",
    "admin_sessions": "expires_at < %(cutoff)s OR ended_at < %(cutoff)s",
    "sso_tokens": "expires_at < %(cutoff)s",
    "password_resets": "expires_at < %(cutoff)s",
    "email_verifications": "expires_at < %(cutoff)s",
    "login_failures": "at < %(failures)s",
    "oauth_credentials": ("x.kind IN ('dynamic', 'metadata_document') AND x.created_at < %(unused)s "
                          "AND (x.last_used_at IS NULL OR x.last_used_at < %(unused)s) "
                          "AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.credential_id = x.id)"),
    "registration_tokens": "expires_at < %(cutoff)s OR uses_left = 0",
    "backchannel_logouts": "finished_at < %(deliveries)s",
    "seen_jtis": "expires_at < %(now)s",
}
# The column a batch selects its rows by: ``id``, but for a table keyed by several columns the row's own
# address (SQLite's rowid, PostgreSQL's ctid).
_ROW_KEY: dict[str, tuple[str, str]] = {"seen_jtis": ("rowid", "ctid")}
# How long a self-registered client may go unused (HOSPES_REGISTRATION_UNUSED_DAYS's default).
REGISTRATIONS_UNUSED = timedelta(days=30)
TABLES = tuple(_DEAD)


def _statement(table: str, *, postgresql: bool) -> tuple[str, tuple[str, ...]]:
    """The batch's DELETE with ``%s`` placeholders, and the names of its parameters in order."""
    where = _DEAD[table]
    names = []
    while "%(" in where:
        start = where.index("%(")
        end = where.index(")s", start)
        names.append(where[start + 2:end])
        where = where[:start] + "%s" + where[end + 2:]
    lock = " FOR UPDATE SKIP LOCKED" if postgresql else ""
    row_key = _ROW_KEY.get(table, ("id", "id"))[postgresql]
    sql = (f"DELETE FROM {table} WHERE {row_key} IN "  # noqa: S608 (constant text)
           f"(SELECT x.{row_key} FROM {table} x WHERE {where} LIMIT %s{lock})")
    return sql, tuple(names)


_STATEMENTS = {(table, pg): _statement(table, postgresql=pg) for table in TABLES for pg in (False, True)}


async def purge_batch(tx: Tx, table: str, *, at: datetime, grace: timedelta, limit: int,
                      unused: timedelta = REGISTRATIONS_UNUSED) -> int:
    """Delete up to ``limit`` dead rows of ``table``; how many went."""
    sql, names = _STATEMENTS[(table, not tx.sqlite)]
    values = {"now": tx.ts(at), "cutoff": tx.ts(at - grace), "failures": tx.ts(at - LOGIN_FAILURES_KEPT),
              "unused": tx.ts(at - unused), "deliveries": tx.ts(at - DELIVERIES_KEPT)}
    return await tx.execute(sql, *(values[n] for n in names), limit)


def purge_table(db: Database, table: str, *, grace: timedelta, batch: int, max_batches: int | None = None,
                unused: timedelta = REGISTRATIONS_UNUSED) -> int:
    """Batches of ``table`` until none is full (or ``max_batches``), each its own transaction."""
    total = 0
    done = 0
    while max_batches is None or done < max_batches:
        n = _one_batch(db, table, grace, batch, unused)
        total += n
        done += 1
        if n < batch:
            break
    return total


def purge(db: Database, *, grace: timedelta, batch: int, unused: timedelta = REGISTRATIONS_UNUSED) -> dict[str, int]:
    """Every dead row out now (``hospes purge``): the count per table."""
    return {table: purge_table(db, table, grace=grace, batch=batch, unused=unused) for table in TABLES}


async def keep_purging(db: Database, *, interval: float, grace: timedelta, batch: int,
                       stop: asyncio.Event, unused: timedelta = REGISTRATIONS_UNUSED) -> None:
    """The server's background purge: a pass every ``interval`` seconds (±20 %; the first after half to one
    and a half intervals, so workers and nodes started together do not purge in step), each table in
    at most ``BATCHES_PER_PASS`` batches with a pause between them. A failed pass is logged in one line and
    tried again next time. Ends when ``stop`` is set (after the batch running then)."""
    delay = interval * random.uniform(0.5, 1.5)  # noqa: S311 (spreading work, not a secret)
    while not await _stopped(stop, delay):
        try:
            counts: dict[str, int] = {}
            for table in TABLES:
                counts[table] = 0
                for _ in range(BATCHES_PER_PASS):
                    n = await asyncio.to_thread(_one_batch, db, table, grace, batch, unused)
                    counts[table] += n
                    if n < batch or await _stopped(stop, _PAUSE_S):
                        break
                if stop.is_set():
                    break
            if any(counts.values()):
                log.info("Purged %s", ", ".join(f"{t} {n}" for t, n in counts.items() if n))
        except Exception as exc:
            log.warning("Purge failed, trying again in %.0f s: %s", interval,
                        (str(exc).splitlines() or [type(exc).__name__])[0])
        delay = interval * random.uniform(0.8, 1.2)  # noqa: S311


def _one_batch(db: Database, table: str, grace: timedelta, batch: int,
               unused: timedelta = REGISTRATIONS_UNUSED) -> int:
    with db.transaction() as s:
        return drive(purge_batch(session_tx(s), table, at=now(), grace=grace, limit=batch, unused=unused))


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
