"""A grant and what is issued under it: its authorization code, access tokens and refresh tokens.

One narrow function per stored thing and operation (after fosite's ``handler/oauth2/storage.go``:
get, create, invalidate), each a constant statement over a ``Tx`` (store/sql.py), each returning a
named row. The token endpoint's grants, revocation and the ORM pages (through ``session_tx``) all
call these, so every rule about codes and tokens is written here once, in SQL.

- A code or refresh token is single use through an atomic ``UPDATE … WHERE used_at IS NULL``: of two
  concurrent redemptions exactly one touches the row (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
- Revoking a grant revokes every token issued under it (RFC 6749 §4.1.2, RFC 7009 §2.1).
- A token is live while it and its grant are unrevoked, it has not expired, its user is not disabled,
  and (a refresh token) it has not been rotated: ``ACCESS_TOKEN_LIVE``, ``REFRESH_TOKEN_LIVE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from hospes.clock import now
from hospes.store.audit import AuditRow, insert_with
from hospes.store.sql import PERSON_COLUMNS, Person, Tx, aware, drive, epoch_of, json_list, json_object, session_tx

# -- liveness: the one definition, shared by userinfo, introspection and revocation ------------------
# (t: the token's table, g: grants, u: users; the parameter is the current time.)
# ``IS NOT TRUE``: a client_credentials token has no person (user_id NULL; joined as NULLs by LIVE_TOKENS_SQL).
ACCESS_TOKEN_LIVE = ("t.revoked_at IS NULL AND t.expires_at > %s AND g.revoked_at IS NULL "
                     "AND u.disabled IS NOT TRUE")
REFRESH_TOKEN_LIVE = f"{ACCESS_TOKEN_LIVE} AND t.used_at IS NULL"

_TOKEN_OF = "JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id"
# Introspection and revocation also find a token for no person (RFC 6749 §4.4, client_credentials).
_ANY_TOKEN_OF = "JOIN grants g ON g.id = t.grant_id LEFT JOIN users u ON u.id = t.user_id"
_LIVE_SELECT = "t.id, t.grant_id, t.credential_id, t.scope, t.issued_at, t.expires_at, u.uuid, u.email, t.acr, t.jkt"
# The live token of either kind with this digest, with its audience (an access token's own; a refresh token's,
# its grant's resource, which every access token it yields gets). Parameters: digest, now, digest, now.
# An access token's act (RFC 8693 §4.1) too; a refresh token has none (an exchange issues none).
LIVE_TOKENS_SQL = (
    f"SELECT 'access_token' AS kind, {_LIVE_SELECT}, t.audience, t.act FROM access_tokens t "  # noqa: S608
    f"{_ANY_TOKEN_OF} WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE} UNION ALL "
    f"SELECT 'refresh_token' AS kind, {_LIVE_SELECT}, g.resource, NULL FROM refresh_tokens t {_TOKEN_OF} "
    f"WHERE t.token_hash = %s AND {REFRESH_TOKEN_LIVE}"
)
# What a query over LIVE_TOKENS_SQL (as x) selects for ``LiveToken.of``, in its order.
LIVE_TOKEN_COLUMNS = ("x.kind, x.id, x.grant_id, x.scope, x.issued_at, x.expires_at, x.uuid, x.email, x.acr, x.jkt, "
                      "x.audience, x.act")


class LiveToken(NamedTuple):
    """A live access or refresh token (introspection, revocation)."""

    kind: str  # "access_token" | "refresh_token"
    id: int
    grant_id: int
    scope: str
    issued_at: int  # epoch seconds
    expires_at: int
    sub: str | None  # the person's; None for a client_credentials token (no person)
    username: str | None
    acr: str | None  # how the person logged in for the grant (RFC 9470 step-up)
    jkt: str | None  # the DPoP key it is bound to (RFC 9449 §6: cnf.jkt); None: a bearer token
    audience: str | None  # the operator's resource it is for (RFC 8707); None: the customer API
    act: dict[str, Any] | None  # who acts for the subject, for a token obtained by exchange (RFC 8693 §4.1)

    @classmethod
    def of(cls, cols: Sequence[Any]) -> LiveToken:
        kind, tid, grant_id, scope, issued_at, expires_at, sub, email, acr, jkt, audience, act = cols
        return cls(kind, tid, grant_id, scope, epoch_of(issued_at), epoch_of(expires_at), sub, email, acr, jkt,
                   audience, json_object(act))


# -- the grant a code or refresh token belongs to -----------------------------------------------------
GRANT_COLUMNS = f"g.id, g.revoked_at, u.disabled, g.claims, g.resource, r.token_format, {PERSON_COLUMNS}"
# The grant's resource server, for its token format (queries selecting GRANT_COLUMNS join it).
_RESOURCE_OF = "LEFT JOIN resources r ON r.identifier = g.resource"
_GRANT_WIDTH = GRANT_COLUMNS.count(",") + 1


class GrantRow(NamedTuple):
    """A grant with its person, read in the same query as its code or refresh token."""

    id: int
    revoked: bool
    user_disabled: bool
    claims: str | None  # asked for with the claims parameter (oauth/claims.py ``stored``)
    resource: str | None  # the operator's resource server it was given for (RFC 8707); None: the customer API
    token_format: str | None  # that resource's access-token format ("opaque" or "jwt"); None: no resource
    user: Person

    @property
    def active(self) -> bool:
        """Tokens may still be issued under it: not revoked, and its user not disabled."""
        return not self.revoked and not self.user_disabled

    @classmethod
    def of(cls, cols: Sequence[Any]) -> GrantRow:
        gid, revoked_at, disabled, claims, resource, token_format, *person = cols
        return cls(gid, revoked_at is not None, bool(disabled), claims, resource, token_format, Person.of(person))


_REDEEM_SQL = {table: f"UPDATE {table} SET used_at = %s WHERE id = %s AND used_at IS NULL"  # noqa: S608 (constant)
               for table in ("authorization_codes", "refresh_tokens")}


async def _redeem(tx: Tx, table: str, row_id: int, at: datetime) -> bool:
    # Single use, atomically: of two concurrent redemptions exactly one touches the row.
    return await tx.execute(_REDEEM_SQL[table], tx.ts(at), row_id) == 1


# -- authorization codes (RFC 6749 §4.1.2-4.1.3) ------------------------------------------------------
_CODE_COLUMNS = ("c.id, c.credential_id, c.redirect_uri, c.scope, c.nonce, c.code_challenge, c.auth_time, c.acr, "
                 "c.amr, c.session_id, c.expires_at, c.used_at, c.dpop_jkt")
_CODE_WIDTH = _CODE_COLUMNS.count(",") + 1
CODE_SQL = (
    f"SELECT {_CODE_COLUMNS}, {GRANT_COLUMNS} FROM authorization_codes c "  # noqa: S608 (constant text)
    f"JOIN grants g ON g.id = c.grant_id JOIN users u ON u.id = c.user_id {_RESOURCE_OF} WHERE c.code_hash = %s"
)


@dataclass(frozen=True, slots=True)
class Redeemable:
    """What a code and a refresh token have in common: single use, under a grant, for one client."""

    id: int
    credential_id: int
    scope: str
    auth_time: int
    acr: str | None
    amr: list[str]
    expires_at: datetime | None
    used: bool  # redeemed already (a code exchanged, a refresh token rotated)
    grant: GrantRow


@dataclass(frozen=True, slots=True)
class AuthorizationCodeRow(Redeemable):
    redirect_uri: str | None  # as sent in the authorization request, if it was
    nonce: str | None
    code_challenge: str | None  # RFC 7636 S256
    session_id: str | None
    dpop_jkt: str | None  # RFC 9449 §10: the DPoP key the token request must prove

    @classmethod
    def of(cls, row: Sequence[Any]) -> AuthorizationCodeRow:
        (cid, credential_id, redirect_uri, scope, nonce, challenge, auth_time, acr, amr, session_id, expires_at,
         used_at, dpop_jkt) = row[:_CODE_WIDTH]
        return cls(id=cid, credential_id=credential_id, scope=scope, auth_time=auth_time, acr=acr, amr=json_list(amr),
                   expires_at=aware(expires_at), used=used_at is not None, grant=GrantRow.of(row[_CODE_WIDTH:]),
                   redirect_uri=redirect_uri, nonce=nonce, code_challenge=challenge, session_id=session_id,
                   dpop_jkt=dpop_jkt)


async def get_authorization_code(tx: Tx, code_hash: bytes) -> AuthorizationCodeRow | None:
    row = await tx.one(CODE_SQL, code_hash)
    return AuthorizationCodeRow.of(row) if row is not None else None


async def invalidate_authorization_code(tx: Tx, code_id: int, at: datetime) -> bool:
    """Mark the code used; False when it already was (another exchange won)."""
    return await _redeem(tx, "authorization_codes", code_id, at)


# -- refresh tokens (RFC 6749 §6) ---------------------------------------------------------------------
_REFRESH_COLUMNS = ("t.id, t.credential_id, t.scope, t.auth_time, t.acr, t.amr, t.expires_at, t.used_at, t.revoked_at, "
                    "t.jkt")
_REFRESH_WIDTH = _REFRESH_COLUMNS.count(",") + 1
REFRESH_SQL = (
    f"SELECT {_REFRESH_COLUMNS}, {GRANT_COLUMNS} FROM refresh_tokens t {_TOKEN_OF} "  # noqa: S608 (constant text)
    f"{_RESOURCE_OF} WHERE t.token_hash = %s"
)


@dataclass(frozen=True, slots=True)
class RefreshTokenRow(Redeemable):
    revoked: bool
    jkt: str | None  # RFC 9449 §5: a public client's refresh token, bound to its DPoP key

    @classmethod
    def of(cls, row: Sequence[Any]) -> RefreshTokenRow:
        tid, credential_id, scope, auth_time, acr, amr, expires_at, used_at, revoked_at, jkt = row[:_REFRESH_WIDTH]
        return cls(id=tid, credential_id=credential_id, scope=scope, auth_time=auth_time, acr=acr, amr=json_list(amr),
                   expires_at=aware(expires_at), used=used_at is not None, grant=GrantRow.of(row[_REFRESH_WIDTH:]),
                   revoked=revoked_at is not None, jkt=jkt)


async def get_refresh_token(tx: Tx, token_hash: bytes) -> RefreshTokenRow | None:
    row = await tx.one(REFRESH_SQL, token_hash)
    return RefreshTokenRow.of(row) if row is not None else None


async def invalidate_refresh_token(tx: Tx, token_id: int, at: datetime) -> bool:
    """Mark the refresh token rotated; False when it already was (another refresh won)."""
    return await _redeem(tx, "refresh_tokens", token_id, at)


# -- a live access token as the subject (or actor) of a token exchange (RFC 8693 §2.1) ----------------
_SUBJECT_COLUMNS = "t.id, t.credential_id, t.scope, t.acr, t.expires_at, t.act"
_SUBJECT_WIDTH = _SUBJECT_COLUMNS.count(",") + 1
SUBJECT_TOKEN_SQL = (
    f"SELECT {_SUBJECT_COLUMNS}, {GRANT_COLUMNS} FROM access_tokens t {_TOKEN_OF} "  # noqa: S608 (constant text)
    f"{_RESOURCE_OF} WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE}"
)


class SubjectToken(NamedTuple):
    """A live access token with its grant: what a token exchange narrows. Its audience is its grant's resource
    (every access token gets its grant's)."""

    id: int
    credential_id: int  # the client it was issued to
    scope: str
    acr: str | None
    expires_at: datetime
    act: dict[str, Any] | None  # already an exchanged token's: who acted (RFC 8693 §4.1)
    grant: GrantRow

    @classmethod
    def of(cls, row: Sequence[Any]) -> SubjectToken:
        tid, credential_id, scope, acr, expires_at, act = row[:_SUBJECT_WIDTH]
        expires = aware(expires_at)
        assert expires is not None  # NOT NULL
        return cls(tid, credential_id, scope, acr, expires, json_object(act), GrantRow.of(row[_SUBJECT_WIDTH:]))


async def live_access_token(tx: Tx, token_hash: bytes, at: datetime) -> SubjectToken | None:
    """The live access token with this digest (``ACCESS_TOKEN_LIVE``: unrevoked, unexpired, its grant unrevoked,
    its person enabled), whoever it was issued to; None when there is none."""
    row = await tx.one(SUBJECT_TOKEN_SQL, token_hash, tx.ts(at))
    return SubjectToken.of(row) if row is not None else None


# -- issuing ------------------------------------------------------------------------------------------


async def create_client_grant(tx: Tx, *, credential_id: int, scope: str, resource: str, at: datetime) -> int:
    """A client_credentials grant (RFC 6749 §4.4), for no person: what its token is revoked with (the
    credential deleted, the resource removed, RFC 7009). Its id."""
    row = await tx.one("INSERT INTO grants (credential_id, user_id, scope, resource, created_at) "
                       "VALUES (%s, NULL, %s, %s, %s) RETURNING id", credential_id, scope, resource, tx.ts(at))
    assert row is not None
    return int(row[0])


async def create_access_token(tx: Tx, *, token_hash: bytes, grant_id: int, credential_id: int,
                              user_id: int | None, scope: str, audience: str | None, acr: str | None,
                              issued_at: datetime, expires_at: datetime, jkt: str | None,
                              act: dict[str, Any] | None = None, audit: AuditRow | None = None) -> None:
    """``audience``: the operator's resource (RFC 8707), None for the customer API; ``acr``: the login's;
    ``user_id`` None: a client_credentials token; ``jkt``: the DPoP key it is bound to (RFC 9449 §6), None for a
    bearer token; ``act``: the acting party of a token obtained by exchange (RFC 8693 §4.1); ``audit``: an entry
    written with it (store/audit.py ``insert_with``)."""
    await insert_with(tx, audit, "INSERT INTO access_tokens (token_hash, grant_id, credential_id, user_id, scope, "
                      "audience, acr, issued_at, expires_at, act, jkt) "
                      "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                      token_hash, grant_id, credential_id, user_id, scope, audience, acr, tx.ts(issued_at),
                      tx.ts(expires_at), tx.json(act) if act is not None else None, jkt)


async def create_refresh_token(tx: Tx, *, token_hash: bytes, grant_id: int, credential_id: int, user_id: int,
                               scope: str, auth_time: int, acr: str | None, amr: list[str], issued_at: datetime,
                               expires_at: datetime, jkt: str | None) -> None:
    """``jkt``: the DPoP key a public client's refresh token is bound to (RFC 9449 §5), else None."""
    await tx.execute("INSERT INTO refresh_tokens (token_hash, grant_id, credential_id, user_id, scope, auth_time, "
                     "acr, amr, issued_at, expires_at, jkt) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     token_hash, grant_id, credential_id, user_id, scope, auth_time, acr, tx.json(list(amr)),
                     tx.ts(issued_at), tx.ts(expires_at), jkt)


# -- revoking -----------------------------------------------------------------------------------------


_REVOKE_GRANT_SQL = tuple(
    f"UPDATE {table} SET revoked_at = %s WHERE {key} = %s AND revoked_at IS NULL"  # noqa: S608 (constant text)
    for table, key in (("grants", "id"), ("access_tokens", "grant_id"), ("refresh_tokens", "grant_id"))
)


async def revoke_grant(tx: Tx, grant_id: int, at: datetime) -> None:
    """Revoke a grant and every token issued under it (RFC 6749 §4.1.2, RFC 9700 §4.14.2, RFC 7009 §2.1)."""
    t = tx.ts(at)
    for sql in _REVOKE_GRANT_SQL:
        await tx.execute(sql, t, grant_id)


_REVOKE_CREDENTIAL_SQL = tuple(
    f"UPDATE {table} SET revoked_at = %s WHERE credential_id = %s AND revoked_at IS NULL"  # noqa: S608 (constant)
    for table in ("grants", "access_tokens", "refresh_tokens")
)


async def revoke_credential_grants(tx: Tx, credential_id: int, at: datetime) -> None:
    """Revoke every grant of a client and every token issued under them (its credential is deleted)."""
    t = tx.ts(at)
    for sql in _REVOKE_CREDENTIAL_SQL:
        await tx.execute(sql, t, credential_id)


_REVOKE_RESOURCE_SQL = tuple(
    f"UPDATE {table} SET revoked_at = %s WHERE revoked_at IS NULL AND {key} IN "  # noqa: S608 (constant text)
    "(SELECT id FROM grants WHERE resource = %s)"
    for table, key in (("access_tokens", "grant_id"), ("refresh_tokens", "grant_id"), ("grants", "id"))
)


async def revoke_resource_grants(tx: Tx, identifier: str, at: datetime) -> None:
    """Revoke every grant given for an operator's resource and its tokens (the resource is removed)."""
    t = tx.ts(at)
    for sql in _REVOKE_RESOURCE_SQL:
        await tx.execute(sql, t, identifier)


def revoke_grant_in(s: Session, grant_id: int) -> None:
    """``revoke_grant`` in an ORM session's transaction (the pages, the CLI and the admin API)."""
    drive(revoke_grant(session_tx(s), grant_id, now()))


def revoke_credential_grants_in(s: Session, credential_id: int) -> None:
    drive(revoke_credential_grants(session_tx(s), credential_id, now()))


async def revoke_access_token(tx: Tx, token_id: int, at: datetime) -> None:
    await tx.execute("UPDATE access_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                     tx.ts(at), token_id)


_REVOKE_ALL_SQL = tuple(f"UPDATE {table} SET revoked_at = %s WHERE revoked_at IS NULL"  # noqa: S608 (constant)
                        for table in ("grants", "access_tokens", "refresh_tokens"))


async def revoke_every_grant(tx: Tx, at: datetime) -> int:
    """Revoke every grant and every token (after a restore, so that nothing revoked or rotated since the
    backup is usable again); how many grants were live."""
    t = tx.ts(at)
    counts = [await tx.execute(sql, t) for sql in _REVOKE_ALL_SQL]
    return counts[0]
