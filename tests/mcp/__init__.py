"""Helpers for the MCP server's tests: an access token for {issuer}/mcp, put in the database as the token endpoint
would (until resource={issuer}/mcp is taken there), and the official MCP SDK's client over HTTP."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hospes.clock import now
from hospes.secrets import digest
from hospes.store.db import Database
from hospes.store.models import AccessToken, Grant


@dataclass
class Token:
    value: str
    grant_id: int


def issue(db: Database, *, user_id: int, credential_id: int, scope: str, accounts: tuple[int, ...],
          audience: str | None, lifetime: timedelta = timedelta(hours=1)) -> Token:
    """A grant with the accounts chosen and one live access token of ``audience`` (None: the customer API's)."""
    value = secrets.token_urlsafe(32)
    at = now()
    with db.transaction() as s:
        grant = Grant(credential_id=credential_id, user_id=user_id, scope=scope,
                      accounts=" ".join(str(a) for a in accounts), created_at=at)
        s.add(grant)
        s.flush()
        s.add(AccessToken(token_hash=digest(value), grant_id=grant.id, credential_id=credential_id, user_id=user_id,
                          scope=scope, audience=audience, issued_at=at, expires_at=at + lifetime))
        grant_id = grant.id
    return Token(value, grant_id)


@dataclass
class Seen:
    """Every HTTP answer the client received: (status, WWW-Authenticate)."""

    answers: list[tuple[int, str | None]] = field(default_factory=list)

    async def record(self, response: httpx2.Response) -> None:
        self.answers.append((response.status_code, response.headers.get("www-authenticate")))


@asynccontextmanager
async def connected(url: str, token: str, seen: Seen | None = None, mode: str = "legacy") -> AsyncIterator[Any]:
    """The SDK's client connected (initialize, for mode "legacy") with ``token`` in the Authorization header."""
    hooks = {"response": [seen.record]} if seen is not None else {}
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30, event_hooks=hooks)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        yield client
