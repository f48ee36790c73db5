"""OpenID Connect Back-Channel Logout 1.0 (https://openid.net/specs/openid-connect-backchannel-1_0.html).

When a person's session at Hospes ends (they log out, end it from the sessions page, an admin ends it) or
they revoke an application, each client with a ``backchannel_logout_uri`` that received an ID token in that
session is sent a logout token (§2.4), POSTed as the form field ``logout_token`` (§2.5).

Delivery never holds up the person: the transaction that ends the session writes a pending row
(store/backchannel.py), and the server's background task (``keep_delivering``, started per worker in app.py)
claims due rows, POSTs them, and retries a failure with exponential backoff (``MAX_ATTEMPTS`` attempts, about
42 minutes apart from first to last) before giving up. Delivered and failed rows are purged after the purge
grace (store/purge.py).

The URI is POSTed as registered, without oauth/fetch.py's address rules (that module only GETs): only the
operator registers it (the CLI, the admin API, the admin area), under oauth/credentials.py's URI rules
(https, http only for loopback). Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from hospes.clock import epoch, now
from hospes.oauth.keys import KeyRing, sign_jwt
from hospes.store import backchannel as store
from hospes.store.backchannel import Due

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hospes.store.db import Database

log = logging.getLogger("hospes.backchannel")

# §2.6: the event that makes a JWT a logout token.
EVENT = "http://schemas.openid.net/event/backchannel-logout"
# The JWT's typ (§2.4, "explicit typing", RFC 8725 §3.11).
TYP = "logout+jwt"
# A logout token is for immediate use: it lives two minutes (§2.4 recommends a short lifetime).
TOKEN_TTL = 120
# Attempts before a delivery is given up, and the wait after the first failure; each next wait is four times
# the last (30 s, 2 min, 8 min, 32 min).
MAX_ATTEMPTS = 5
FIRST_RETRY = 30.0
# One POST's whole budget (§2.8 says the RP answers at once), and the lease of a claimed delivery: longer than
# a POST, so a worker that stopped mid-way leaves it to another one after this.
POST_TIMEOUT = 5.0
LEASE = timedelta(seconds=60)
# How often a worker looks for due deliveries, and how many it claims at once.
POLL = 1.0
BATCH = 20


def session_ended(s: Session, sids: Sequence[str]) -> None:
    """Sessions ``sids`` ended in this transaction: queue a logout token for each client used in them."""
    store.add(s, store.session_listeners(s, sids))


def app_revoked(s: Session, user_id: int, credential_id: int) -> None:
    """The person revoked the application: a logout token per session of theirs it was used in, or one with
    only ``sub`` (all of the person's sessions at the client, §2.4) when there is none and the client does not
    require ``sid`` (``backchannel_logout_session_required``)."""
    bare, in_sessions = store.user_sessions_with(s, user_id, credential_id)
    if in_sessions:
        store.add(s, in_sessions)
    elif bare is not None and not bare.session_required:
        store.add(s, [bare])


def recent_deliveries(s: Session, credential_id: int) -> list[store.Delivery]:
    """The credential's latest deliveries, newest first, for the admin area."""
    return store.recent(s, credential_id)


def logout_token(keys: KeyRing, issuer: str, due: Due) -> str:
    """§2.4: iss, aud, iat, exp, jti, events, and sub and/or sid; never a nonce (§2.4, so it cannot pass for
    an ID token), and typed ``logout+jwt``."""
    t = epoch()
    claims: dict[str, Any] = {"iss": issuer, "aud": due.client_id, "iat": t, "exp": t + TOKEN_TTL,
                              "jti": due.jti, "sub": due.sub, "events": {EVENT: {}}}
    if due.sid:
        claims["sid"] = due.sid
    return sign_jwt(keys, claims, typ=TYP, alg=due.alg)


def retry_delay(attempts: int, first: float = FIRST_RETRY) -> float | None:
    """Seconds to wait after failed attempt number ``attempts``; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return first * 4 ** (attempts - 1)


async def _post(client: httpx.AsyncClient, token: str, uri: str) -> str:
    """"" when delivered (§2.8: any 2xx), else why not, in one line."""
    try:
        response = await client.post(uri, data={"logout_token": token})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
    if 200 <= response.status_code < 300:
        return ""
    return f"HTTP {response.status_code}"


async def deliver_due(db: Database, keys: KeyRing, issuer: str, client: httpx.AsyncClient, *,
                      first_retry: float = FIRST_RETRY) -> int:
    """Claim the deliveries due now, POST them at once, record each outcome; how many were tried."""
    def claim() -> list[Due]:
        with db.read() as s:
            if not store.any_due(s, now()):
                return []
        with db.transaction() as s:
            t = now()
            return store.claim(s, at=t, lease_until=t + LEASE, limit=BATCH, postgresql=db.pg is not None)

    taken = await asyncio.to_thread(claim)
    if not taken:
        return 0
    errors = await asyncio.gather(*(_post(client, logout_token(keys, issuer, d), d.uri) for d in taken))

    def record() -> None:
        with db.transaction() as s:
            for due, error in zip(taken, errors, strict=True):
                if not error:
                    store.finish(s, due.id, status="delivered")
                    continue
                delay = retry_delay(due.attempts, first_retry)
                if delay is None:
                    store.finish(s, due.id, status="failed", error=error)
                else:
                    store.finish(s, due.id, status="pending", error=error,
                                 retry_at=now() + timedelta(seconds=delay))
                log.info("Back-channel logout to %s failed (attempt %d): %s", due.client_id, due.attempts, error)

    await asyncio.to_thread(record)
    return len(taken)


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False,
                             headers={"User-Agent": "Hospes back-channel logout"})


async def keep_delivering(db: Database, keys: KeyRing, issuer: str, *, stop: asyncio.Event,
                          poll: float = POLL, first_retry: float = FIRST_RETRY) -> None:
    """The server's delivery task: every ``poll`` seconds (±20 %), deliver what is due. A failed round is
    logged in one line and tried again. Ends when ``stop`` is set."""
    async with http_client() as client:
        while True:
            try:
                await deliver_due(db, keys, issuer, client, first_retry=first_retry)
            except Exception as exc:
                log.warning("Back-channel logout delivery failed, trying again: %s",
                            (str(exc).splitlines() or [type(exc).__name__])[0])
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll * random.uniform(0.8, 1.2))  # noqa: S311
            except TimeoutError:
                continue
            return
