"""Who a customer-API request acts for, and what it reaches: a live token (store/lookups.py ``api_token``,
read on every request, so a revoked application stops at once) and the person's accounts as they are now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from hospes.accounts.reach import Reach, token_reach
from hospes.clock import now
from hospes.oauth import errors
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store.accounts import ReachedAccount, reached
from hospes.store.lookups import ApiTokenRow
from hospes.store.sql import Tx, drive, session_tx


@dataclass(frozen=True)
class Caller:
    token: ApiTokenRow
    reach: Reach

    @property
    def user_id(self) -> int:
        return self.token.person.id

    @property
    def actor(self) -> str:
        """The audit log's actor: the person (the application is named in ``via``)."""
        return f"user:{self.token.person.id}"

    @property
    def via(self) -> dict[str, Any]:
        """The audit entry's record of the application that acted, and through which grant."""
        return {"via": "api", "application": self.token.client_identifier,
                "credential_id": self.token.credential_id, "grant_id": self.token.grant_id}


def caller_with(token: ApiTokenRow, accounts: Sequence[ReachedAccount]) -> Caller:
    """The token's reach: its scopes, the accounts chosen for it, the person's permissions there (``accounts``,
    the accounts the person reaches now)."""
    return Caller(token, token_reach(token.scope, token.accounts, accounts))


async def caller_in(tx: Tx, token: ApiTokenRow) -> Caller:
    """``caller_with`` the accounts read with the token (store/lookups.py ``api_token``), else read now."""
    return caller_with(token, token.reached if token.reached is not None else await reached(tx, token.person.id))


def caller_of(s: Session, token: ApiTokenRow) -> Caller:
    """The token's reach read again in an ORM session's transaction (the writes: it holds while they change)."""
    return drive(caller_in(session_tx(s), replace(token, reached=None)))


def presentable(token: str) -> bool:
    """Whether ``token`` could be one Hospes issued, worth looking up."""
    return 0 < len(token) <= 512


def refused() -> errors.InvalidToken:
    """RFC 6750 §3.1 invalid_token (401): the token is not (or no longer) a live one for a person. A
    client_credentials token acts for no person and is never issued for this API (oauth/grants/
    client_credentials.py): store/lookups.py joins every API token to its person, so one is refused here too,
    with the same answer (RFC 6750 §3.1: "invalid for other reasons"; no scope would make it do, so not
    insufficient_scope)."""
    return errors.InvalidToken("The access token is invalid, expired or revoked.")


async def authenticate(provider: Provider, token: str) -> ApiTokenRow:
    """The live access token ``token`` (one indexed query, nothing cached), or RFC 6750 §3.1 invalid_token."""
    found = await provider.lookups.api_token(digest(token), now()) if presentable(token) else None
    return admitted(found)


def admitted(found: ApiTokenRow | None) -> ApiTokenRow:
    """The token read for this API, or invalid_token: none found (not live), or one for another audience (an
    operator's resource or the MCP server, RFC 8707), which is not this API's."""
    if found is None:
        raise refused()
    if found.audience is not None:
        raise errors.InvalidToken("The access token was issued for another resource.")
    return found
