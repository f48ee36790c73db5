"""JWT ids seen: the one rule that a jti is used once, on every node.

A client assertion (RFC 7523 §3: "the authorization server MAY ensure that JWTs are not replayed by
maintaining the set of used jti values for the length of time for which the JWT would be considered valid"),
a DPoP proof (RFC 9449 §11.1) and a request object (RFC 9101 §10.8) each name a ``jti``; ``first_use``
records it in ``seen_jtis`` until the JWT expires and says whether this was its first use. The primary key
(kind, digest) decides: ``INSERT … ON CONFLICT`` is atomic on SQLite and across PostgreSQL nodes, so of two
requests carrying one jti, on one node or two, exactly one is first.

Only digests are kept (``key``: SHA-256 of what the jti belongs to and the jti), so a client's ids never
collide with another's and nothing of a JWT is stored. A row past its ``expires_at`` is taken over by the
next use of its id (the JWT it came in has expired, so the caller has refused that JWT already); store/purge.py
deletes the others.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from hospes.store.sql import Tx

# Kinds (seen_jtis.kind, at most 16 characters).
CLIENT_ASSERTION = "client_assertion"
DPOP_PROOF = "dpop_proof"
REQUEST_OBJECT = "request_object"

FIRST_USE_SQL = (
    "INSERT INTO seen_jtis (kind, digest, expires_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (kind, digest) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE seen_jtis.expires_at <= %s"
)


def key(belongs_to: str, jti: str) -> bytes:
    """The digest under which a jti is kept: of the client (or key thumbprint) it belongs to, and the jti."""
    h = hashlib.sha256(belongs_to.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(jti.encode("utf-8", "surrogatepass"))
    return h.digest()


async def first_use(tx: Tx, kind: str, digest: bytes, expires_at: datetime, *, at: datetime) -> bool:
    """Record ``digest`` of ``kind`` as used until ``expires_at``: True when this is its first use (or the
    earlier use has expired), False when it was seen and is still within its time."""
    return await tx.execute(FIRST_USE_SQL, kind, digest, tx.ts(expires_at), tx.ts(at)) == 1
