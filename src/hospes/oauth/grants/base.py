"""The one interface every grant implements, and the registry the token endpoint dispatches through.

After fosite's ``TokenEndpointHandler`` and node-oidc-provider's ``lib/actions/grants/*``: a grant names
its ``grant_type`` (RFC 6749 §4.1.3, §6 and extensions), declares the ``parameters`` it reads, may map
another product's field names onto them (``read``), and ``handle``s the request over the store. The
token endpoint (oauth/token.py) knows none of this: it asks ``Grants`` for the grant and calls it.

How a grant runs is its own business, behind ``handle``. Two ways are provided:

- ``UnitGrant``: one unit of work in plain SQL on the store's writer (store/writer.py: group commit on
  SQLite, a transaction on asyncpg on PostgreSQL); the client is authenticated in the same transaction
  and the ID token signed after the commit. The built-in grants, on every relying party's login.
- ``SessionGrant``: an ORM session in a worker thread, for grants off the hot path (single_sign_on).

Either way the client is authenticated by oauth/client_auth.py's one rule, against the row of
store/clients.py.

``Grants`` is built once, with the application (app.py ``create_app``), and never changes afterwards.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.orm import Session

from hospes import logs
from hospes.oauth import client_assertion, client_auth, dpop, errors, issuance
from hospes.oauth.client_auth import AuthenticatedClient, Presented
from hospes.oauth.params import Params, one
from hospes.store.sql import Tx, drive, session_tx
from hospes.store.unavailable import DatabaseUnavailable

if TYPE_CHECKING:
    from hospes.oauth.provider import Provider

# The token endpoint's path below the issuer (WHMCS's; /oauth/token answers too): a client assertion's aud.
TOKEN_PATH = "/oauth/token.php"


class TokenRequest:
    """A token request as a grant sees it: the client's presented credentials, only the parameters the grant
    declared (each read at most once, RFC 6749 §3.2), and its DPoP proof (RFC 9449 §5) when it came with one,
    checked but for its jti's single use (recorded in the grant's unit); for the audit entry of a grant, the
    caller's address and the request's id (read here, in the request's context: a unit may run on another
    thread)."""

    __slots__ = ("client", "params", "proof", "ip", "request_id")

    def __init__(self, client: Presented, params: Params, proof: dpop.Proof | None = None, ip: str = "") -> None:
        self.client = client
        self.params = params
        self.proof = proof
        self.ip = ip
        self.request_id = logs.request_id()

    @property
    def jkt(self) -> str | None:
        """The DPoP key the tokens are bound to (RFC 9449 §5), or None for bearer tokens."""
        return self.proof.jkt if self.proof is not None else None

    def one(self, name: str) -> str | None:
        return one(self.params, name)

    def every(self, name: str) -> list[str]:
        """Every value of a parameter that may be repeated (RFC 8707 §2 ``resource``)."""
        return list(self.params.get(name) or [])


class Grant(ABC):
    """One grant type at the token endpoint (RFC 6749 §3.2)."""

    grant_type: ClassVar[str]
    #: The request parameters the grant reads (client authentication's are read by client_auth.py).
    parameters: ClassVar[frozenset[str]]
    #: A form field that names this grant when a request has no grant_type (cPanel sends none).
    implied_by: ClassVar[str | None] = None

    def read(self, form: Params, query: Params) -> Params:
        """The request's parameters under the names this grant and client authentication use: the hook
        for another product's field names. ``query`` is the token URL's query string."""
        return form

    @abstractmethod
    async def handle(self, provider: Provider, request: TokenRequest) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1), or raise an ``errors.OAuthError``."""


class UnitGrant(Grant):
    """A grant that runs as one unit of work on the store's writer, in plain SQL."""

    async def handle(self, provider: Provider, request: TokenRequest) -> dict[str, Any]:
        timeout = None  # the database deadline, counted from here
        if not provider.keys.is_fresh():
            # Before the transaction: a reload inside it would need a second connection. Its wait counts
            # against the request's deadline, so the unit never runs after the client has stopped waiting.
            started = time.monotonic()
            await asyncio.to_thread(provider.keys.refresh_if_stale)
            timeout = provider.db.timeout - (time.monotonic() - started)
            if timeout <= 0:
                raise DatabaseUnavailable("the signing keys' reload took the request's time")
        exchange = self.exchange
        verifier = provider.verifier(TOKEN_PATH)

        async def unit(tx: Tx) -> issuance.Issued | issuance.Refused:
            client = await client_auth.authenticate(tx, request.client, verifier=verifier)
            if request.proof is not None:
                await dpop.remember_in(tx, request.proof)  # RFC 9449 §11.1: its jti once, on every node
            elif client.dpop_bound:
                # RFC 9449 §5.2 (dpop_bound_access_tokens): this client's token requests must carry a proof.
                raise errors.InvalidRequest("This client's tokens are DPoP-bound: send a DPoP proof (RFC 9449).")
            return await exchange(provider, tx, client, request)

        # A client's keys at its jwks_uri are fetched before the unit, never inside it (client_assertion.py).
        outcome = await client_assertion.keys_then(provider.client_keys,
                                                   lambda: provider.db.writer.run(unit, timeout))
        if isinstance(outcome, issuance.Refused):
            # Its writes (the revoked grant) are committed; the request still fails.
            raise outcome.error
        return issuance.respond(provider, outcome)

    @abstractmethod
    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> issuance.Issued | issuance.Refused:
        """The grant's statements, inside the unit (the client already authenticated in it)."""


class SessionGrant(Grant):
    """A grant that runs in an ORM session, in a worker thread (not for the hot path)."""

    async def handle(self, provider: Provider, request: TokenRequest) -> dict[str, Any]:
        if request.proof is not None:
            # RFC 9449 §5 binds the access token a request obtains; these grants issue none, so a proof that would
            # bind nothing is refused rather than ignored.
            raise errors.InvalidRequest(f"The {self.grant_type} grant does not issue DPoP-bound tokens.")
        return await client_assertion.keys_then(
            provider.client_keys, lambda: asyncio.to_thread(self._in_session, provider, request))

    def _in_session(self, provider: Provider, request: TokenRequest) -> dict[str, Any]:
        with provider.db.transaction() as s:
            client = drive(client_auth.authenticate(session_tx(s), request.client,
                                                    verifier=provider.verifier(TOKEN_PATH)))
            return self.exchange(provider, s, client, request)

    @abstractmethod
    def exchange(self, provider: Provider, s: Session, client: AuthenticatedClient,
                 request: TokenRequest) -> dict[str, Any]:
        """The grant's work inside the session's transaction (the client already authenticated in it)."""


class Grants:
    """The grants the token endpoint offers, by grant_type: built with the application, then read only."""

    __slots__ = ("_by_type", "_implied", "grant_types")

    def __init__(self, grants: Iterable[Grant]) -> None:
        self._by_type: dict[str, Grant] = {}
        self._implied: dict[str, Grant] = {}
        for grant in grants:
            if grant.grant_type in self._by_type:
                raise ValueError(f"Two grants for grant_type {grant.grant_type!r}.")
            self._by_type[grant.grant_type] = grant
            if grant.implied_by is not None:
                self._implied[grant.implied_by] = grant
        self.grant_types: tuple[str, ...] = tuple(self._by_type)

    def __contains__(self, grant_type: object) -> bool:
        return grant_type in self._by_type

    def select(self, form: Params) -> Grant:
        """The grant a request names (RFC 6749 §4.1.3, §6: grant_type), or the one its fields imply."""
        if "grant_type" not in form:
            for name, implied in self._implied.items():
                if name in form:
                    return implied
        grant_type = one(form, "grant_type")
        if not grant_type:
            raise errors.InvalidRequest("The grant type was not specified in the request")
        grant = self._by_type.get(grant_type)
        if grant is None:
            raise errors.UnsupportedGrantType(f"Grant type '{grant_type}' not supported")
        return grant
