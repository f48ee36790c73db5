"""Device authorization requests (RFC 8628): one narrow function per operation over a ``Tx``, named rows.

Only the digest of a device_code is kept (like every token here); the user_code is kept as the page compares
it (oauth/device.py ``normalize``). A request moves pending → approved or denied (on the page, only while
pending and unexpired: a conditional update) → used (its tokens issued). Using it is one atomic
``UPDATE … WHERE status = 'approved'``, so of two concurrent polls exactly one gets the tokens, on SQLite and
across PostgreSQL nodes alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from hospes.store.grants import GRANT_COLUMNS, GrantRow
from hospes.store.sql import Tx, aware, json_list

PENDING, APPROVED, DENIED, USED = "pending", "approved", "denied", "used"

_COLUMNS = ("d.id, d.credential_id, d.user_code, d.scope, d.resource, d.status, d.user_id, d.auth_time, d.acr, "
            "d.amr, d.poll_interval, d.last_polled_at, d.expires_at")
_WIDTH = _COLUMNS.count(",") + 1
# With the grant an approval made (LEFT JOINs: a pending request has none), as the token endpoint needs it.
_SELECT = (f"SELECT {_COLUMNS}, {GRANT_COLUMNS} FROM device_codes d "  # noqa: S608 (constant text)
           "LEFT JOIN grants g ON g.id = d.grant_id LEFT JOIN users u ON u.id = d.user_id "
           "LEFT JOIN resources r ON r.identifier = g.resource WHERE ")


class DeviceCodeRow(NamedTuple):
    id: int
    credential_id: int
    user_code: str
    scope: str
    resource: str | None  # RFC 8707; None: the customer API
    status: str  # PENDING | APPROVED | DENIED | USED
    user_id: int | None
    auth_time: int | None
    acr: str | None
    amr: list[str]
    interval: int  # seconds between polls (RFC 8628 §3.2, raised by slow_down §3.5)
    last_polled_at: datetime | None
    expires_at: datetime
    grant: GrantRow | None  # once approved

    @classmethod
    def of(cls, row: Sequence[Any]) -> DeviceCodeRow:
        (did, credential_id, user_code, scope, resource, status, user_id, auth_time, acr, amr, interval, polled,
         expires_at) = row[:_WIDTH]
        grant = GrantRow.of(row[_WIDTH:]) if row[_WIDTH] is not None else None
        expires = aware(expires_at)
        assert expires is not None
        return cls(did, credential_id, user_code, scope, resource, status, user_id, auth_time, acr, json_list(amr),
                   interval, aware(polled), expires, grant)


async def create(tx: Tx, *, code_hash: bytes, user_code: str, credential_id: int, scope: str, resource: str | None,
                 interval: int, created_at: datetime, expires_at: datetime) -> bool:
    """Store a new request; False when its user_code is taken (the caller draws another)."""
    return await tx.execute(
        "INSERT INTO device_codes (code_hash, user_code, credential_id, scope, resource, status, poll_interval, "
        "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s, %s) ON CONFLICT DO NOTHING",
        code_hash, user_code, credential_id, scope, resource, interval, tx.ts(created_at), tx.ts(expires_at)) == 1


async def by_device_code(tx: Tx, code_hash: bytes) -> DeviceCodeRow | None:
    row = await tx.one(_SELECT + "d.code_hash = %s", code_hash)
    return DeviceCodeRow.of(row) if row is not None else None


async def by_user_code(tx: Tx, user_code: str) -> DeviceCodeRow | None:
    row = await tx.one(_SELECT + "d.user_code = %s", user_code)
    return DeviceCodeRow.of(row) if row is not None else None


async def by_id(tx: Tx, device_code_id: int) -> DeviceCodeRow | None:
    row = await tx.one(_SELECT + "d.id = %s", device_code_id)
    return DeviceCodeRow.of(row) if row is not None else None


async def polled(tx: Tx, device_code_id: int, at: datetime, interval: int) -> None:
    """Record a poll of a pending request, and the interval the device must keep from now on."""
    await tx.execute("UPDATE device_codes SET last_polled_at = %s, poll_interval = %s WHERE id = %s",
                     tx.ts(at), interval, device_code_id)


async def approve(tx: Tx, device_code_id: int, *, user_id: int, grant_id: int, auth_time: int, acr: str | None,
                  amr: list[str], at: datetime) -> bool:
    """The person approved: False when the request is no longer pending or has expired (nothing changed)."""
    return await tx.execute(
        "UPDATE device_codes SET status = 'approved', user_id = %s, grant_id = %s, auth_time = %s, acr = %s, "
        "amr = %s WHERE id = %s AND status = 'pending' AND expires_at > %s",
        user_id, grant_id, auth_time, acr, tx.json(list(amr)), device_code_id, tx.ts(at)) == 1


async def deny(tx: Tx, device_code_id: int, at: datetime) -> bool:
    """The person said no: False when the request is no longer pending or has expired."""
    return await tx.execute("UPDATE device_codes SET status = 'denied' WHERE id = %s AND status = 'pending' "
                            "AND expires_at > %s", device_code_id, tx.ts(at)) == 1


async def redeem(tx: Tx, device_code_id: int) -> bool:
    """Use an approved request up, atomically: False when another poll did first."""
    return await tx.execute("UPDATE device_codes SET status = 'used' WHERE id = %s AND status = 'approved'",
                            device_code_id) == 1
