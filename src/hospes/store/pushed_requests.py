"""Pushed authorization requests (RFC 9126), one narrow function per operation: keep one, take one.

A row holds the parameters of a validated request under the SHA-256 of its request_uri. Taking it deletes it
in the same statement (``DELETE … RETURNING``), so of two uses of one request_uri at most one gets the request
(RFC 9126 §4: one-time use), on SQLite and across PostgreSQL nodes. An expired row is never taken; the purge
deletes it (store/purge.py).
"""

from __future__ import annotations

from datetime import datetime

import orjson

from hospes.store.sql import Tx

PUSH_SQL = ("INSERT INTO pushed_authorization_requests (uri_hash, credential_id, params, expires_at) "
            "VALUES (%s, %s, %s, %s)")
# RFC 9126 §4: only the client the request was pushed by may use it (the client_id of the authorization
# request); another's, an expired or a used one is as unknown.
TAKE_SQL = ("DELETE FROM pushed_authorization_requests WHERE uri_hash = %s AND expires_at > %s AND credential_id = "
            "(SELECT c.id FROM oauth_credentials c WHERE c.identifier = %s) RETURNING params")

Params = dict[str, list[str]]


async def push(tx: Tx, uri_hash: bytes, credential_id: int, params: Params, expires_at: datetime) -> None:
    await tx.execute(PUSH_SQL, uri_hash, credential_id, tx.json(params), tx.ts(expires_at))


async def take(tx: Tx, uri_hash: bytes, client_identifier: str, at: datetime) -> Params | None:
    """The parameters pushed under ``uri_hash`` by that client, if live; the row is gone afterwards."""
    row = await tx.one(TAKE_SQL, uri_hash, tx.ts(at), client_identifier)
    if row is None:
        return None
    value = row[0]
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)  # a JSON column read as text (SQLite, asyncpg)
    return {str(name): [str(v) for v in values] for name, values in value.items()}
