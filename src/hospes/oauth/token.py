"""The token endpoint (RFC 6749 §3.2): authenticate the client, then the grant handler for grant_type.

The authorization_code and refresh_token grants run as units of work on the store's writer, in
plain SQL (store/writer.py: group commit on SQLite, asyncpg on PostgreSQL); the ID token is signed
after the commit.
Grants that plug in through ``register`` (single_sign_on) get an ORM session in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from hospes.oauth import client_auth, errors, issuance
from hospes.oauth.grants import authorization_code, refresh_token
from hospes.oauth.provider import Provider
from hospes.store.sql import Tx

Handler = Callable[..., dict[str, Any]]
UnitHandler = Callable[[Provider, Tx, client_auth.AuthenticatedClient, Any],
                       Coroutine[Any, Any, "issuance.Issued | issuance.Refused"]]
UNITS: dict[str, UnitHandler] = {
    authorization_code.GRANT_TYPE: authorization_code.handle,
    refresh_token.GRANT_TYPE: refresh_token.handle,
}
HANDLERS: dict[str, Handler] = {}
MAX_PARAM = 4096


def register(grant_type: str, handler: Handler) -> None:
    """Other grants plug in here (the single_sign_on grant does, from hospes.sso.grant). A handler is
    called as ``handler(provider, session, client, form, one)`` inside a transaction."""
    HANDLERS[grant_type] = handler


def one_getter(form: Mapping[str, Sequence[str]]) -> Callable[[str], str | None]:
    def one(name: str) -> str | None:
        values = form.get(name) or []
        if len(values) > 1:
            # RFC 6749 §3.2: parameters MUST NOT be included more than once.
            raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
        if values and len(values[0]) > MAX_PARAM:
            raise errors.InvalidRequest(f"The {name} parameter is too long.")
        return values[0] if values else None
    return one


async def token_request(provider: Provider, authorization: str | None,
                        form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    one = one_getter(form)
    grant_type = one("grant_type")
    if not grant_type:
        raise errors.InvalidRequest("The grant type was not specified in the request")
    unit_handler = UNITS.get(grant_type)
    handler = HANDLERS.get(grant_type)
    if unit_handler is None and handler is None:
        raise errors.UnsupportedGrantType(f'Grant type "{grant_type}" not supported')
    presented = client_auth.presented(authorization, form)
    if not provider.keys.is_fresh():
        # Before the transaction: a reload inside it would need a second connection.
        await asyncio.to_thread(provider.keys.refresh_if_stale)
    if unit_handler is None:
        assert handler is not None
        return await asyncio.to_thread(_in_session, provider, authorization, form, handler, one)

    async def unit(tx: Tx) -> issuance.Issued | issuance.Refused:
        client = await client_auth.authenticate_tx(tx, presented)
        return await unit_handler(provider, tx, client, one)

    outcome = await provider.db.writer.run(unit)
    if isinstance(outcome, issuance.Refused):
        # Its writes (the revoked grant) are committed; the request still fails.
        raise outcome.error
    return issuance.respond(provider, outcome)


def _in_session(provider: Provider, authorization: str | None, form: Mapping[str, Sequence[str]],
                handler: Handler, one: Callable[[str], str | None]) -> dict[str, Any]:
    with provider.db.transaction() as s:
        client = client_auth.authenticate(s, authorization, form)
        return handler(provider, s, client, form, one)
