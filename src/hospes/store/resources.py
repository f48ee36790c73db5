"""The operator's resource servers and their scopes, as named rows (plain SQL over a ``Tx``, so the
authorization and token endpoints' units and the admin's session read them the same way).

A scope name is unique across every resource (a unique index), so a scope names its resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from hospes.store.sql import Tx


class ResourceScopeRow(NamedTuple):
    name: str
    description: str


class ResourceRow(NamedTuple):
    id: int
    identifier: str
    name: str
    token_format: str  # "opaque" | "jwt"
    require_acr: str | None
    scopes: tuple[ResourceScopeRow, ...]


async def _with_scopes(tx: Tx, rows: list[tuple[object, ...]]) -> list[ResourceRow]:
    if not rows:
        return []
    ids = [int(str(r[0])) for r in rows]
    marks = ", ".join(["%s"] * len(ids))
    scope_rows = await tx.all("SELECT resource_id, name, description FROM resource_scopes "  # noqa: S608
                              f"WHERE resource_id IN ({marks}) ORDER BY id", *ids)  # (placeholders only)
    by_resource: dict[int, list[ResourceScopeRow]] = {}
    for resource_id, name, description in scope_rows:
        by_resource.setdefault(int(resource_id), []).append(ResourceScopeRow(name, description))
    return [ResourceRow(int(str(r[0])), str(r[1]), str(r[2]), str(r[3]), r[4] if r[4] is None else str(r[4]),
                        tuple(by_resource.get(int(str(r[0])), ()))) for r in rows]


async def by_identifier(tx: Tx, identifier: str) -> ResourceRow | None:
    rows = await tx.all("SELECT id, identifier, name, token_format, require_acr FROM resources "
                        "WHERE identifier = %s", identifier)
    found = await _with_scopes(tx, rows)
    return found[0] if found else None


async def by_id(tx: Tx, resource_id: int) -> ResourceRow | None:
    rows = await tx.all("SELECT id, identifier, name, token_format, require_acr FROM resources "
                        "WHERE id = %s", resource_id)
    found = await _with_scopes(tx, rows)
    return found[0] if found else None


async def every(tx: Tx) -> list[ResourceRow]:
    return await _with_scopes(tx, await tx.all(
        "SELECT id, identifier, name, token_format, require_acr FROM resources ORDER BY id"))


async def scopes_named(tx: Tx, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Of ``names``, those a resource defines: name -> (resource identifier, consent description)."""
    if not names:
        return {}
    marks = ", ".join(["%s"] * len(names))
    rows = await tx.all("SELECT s.name, r.identifier, s.description FROM resource_scopes s "  # noqa: S608
                        f"JOIN resources r ON r.id = s.resource_id WHERE s.name IN ({marks})", *names)
    return {str(name): (str(identifier), str(description)) for name, identifier, description in rows}


async def insert(tx: Tx, *, identifier: str, name: str, token_format: str, require_acr: str | None,
                 scopes: Sequence[ResourceScopeRow], at: datetime) -> int:
    row = await tx.one("INSERT INTO resources (identifier, name, token_format, require_acr, created_at, updated_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                       identifier, name, token_format, require_acr, tx.ts(at), tx.ts(at))
    assert row is not None
    resource_id = int(row[0])
    await replace_scopes(tx, resource_id, scopes)
    return resource_id


async def update(tx: Tx, resource_id: int, *, name: str, token_format: str, require_acr: str | None,
                 at: datetime) -> None:
    await tx.execute("UPDATE resources SET name = %s, token_format = %s, require_acr = %s, updated_at = %s "
                     "WHERE id = %s", name, token_format, require_acr, tx.ts(at), resource_id)


async def replace_scopes(tx: Tx, resource_id: int, scopes: Sequence[ResourceScopeRow]) -> None:
    await tx.execute("DELETE FROM resource_scopes WHERE resource_id = %s", resource_id)
    for scope in scopes:
        await tx.execute("INSERT INTO resource_scopes (resource_id, name, description) VALUES (%s, %s, %s)",
                         resource_id, scope.name, scope.description)


async def delete(tx: Tx, resource_id: int) -> int:
    await tx.execute("DELETE FROM resource_scopes WHERE resource_id = %s", resource_id)
    return await tx.execute("DELETE FROM resources WHERE id = %s", resource_id)
