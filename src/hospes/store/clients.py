"""OAuth clients as the authenticating endpoints read them: one row shape, one query.

The token endpoint reads the client by its identifier inside its unit of work; introspection and
revocation read it in the same query as the presented token (``CLIENT_WITH_TOKEN_SQL``), so that a
call to either is one round trip. Both build the same ``ClientRow``, and oauth/client_auth.py checks
what was presented against it in one place.

The rows are NamedTuples, read by name: built on every call of a hot path, and a NamedTuple costs a
fraction of a frozen dataclass to build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.store.grants import LIVE_TOKEN_COLUMNS, LIVE_TOKENS_SQL, LiveToken
from hospes.store.models import OAuthCredential
from hospes.store.sql import Tx, json_list, json_object

# The columns ``ClientRow.of`` reads, in its order (c: the oauth_credentials table).
CLIENT_COLUMNS = ("c.id, c.identifier, c.secret_hash, c.grant_type, c.scope, c.refresh_token_policy, "
                  "c.id_token_signed_response_alg, c.service_id, c.redirect_uris, c.token_endpoint_auth_method, "
                  "c.jwks, c.jwks_uri, c.dpop_bound, c.require_par, c.secret_sealed")
_WIDTH = CLIENT_COLUMNS.count(",") + 1

CLIENT_SQL = f"SELECT {CLIENT_COLUMNS} FROM oauth_credentials c WHERE c.identifier = %s"  # noqa: S608 (constant)

# The client and, when it is this client's, the live token of either kind (RFC 7662 §2.2: another
# client's token is reported inactive). A digest of 256 random bits names at most one row, so both
# token tables are searched at once; a hint only orders the search (RFC 7662 §2.1, RFC 7009 §2.1).
# Parameters: token digest, now, token digest, now, client identifier.
CLIENT_WITH_TOKEN_SQL = (
    f"SELECT {CLIENT_COLUMNS}, {LIVE_TOKEN_COLUMNS} FROM oauth_credentials c "  # noqa: S608 (constant text)
    f"LEFT JOIN ({LIVE_TOKENS_SQL}) x ON x.credential_id = c.id WHERE c.identifier = %s"
)


# Every client's registered redirect URIs: where its browser applications run (oauth/web_origins.py, CORS).
REDIRECT_URIS_SQL = "SELECT c.id, c.identifier, c.redirect_uris FROM oauth_credentials c"


class ClientRedirects(NamedTuple):
    """A client and its registered redirect URIs."""

    id: int
    identifier: str
    redirect_uris: tuple[str, ...]

    @classmethod
    def of(cls, cols: Sequence[Any]) -> ClientRedirects:
        cid, identifier, redirect_uris = cols
        return cls(cid, identifier, tuple(json_list(redirect_uris)))


def grant_types_of(stored: str) -> frozenset[str]:
    """The grant types a credential may use, from its ``grant_type`` column (a space-separated list; a
    credential of an earlier release holds one name)."""
    return frozenset(stored.split())


def is_public(secret_hash: bytes | None, token_endpoint_auth_method: str | None) -> bool:
    """A public client (RFC 6749 §2.1): one registered for ``none``, or, with no method recorded (as before
    the method was), one without a secret. A private_key_jwt client has no secret and is confidential."""
    if token_endpoint_auth_method is None:
        return secret_hash is None
    return token_endpoint_auth_method == "none"


class ClientRow(NamedTuple):
    """An OAuth credential (WHMCS: OAuth client), as client authentication and the grants need it."""

    id: int
    identifier: str
    secret_hash: bytes | None  # NULL for a public client and a private_key_jwt one
    grant_types: frozenset[str]  # grant_types_of the stored list
    scope: str
    refresh_token_policy: str
    id_token_signed_response_alg: str
    service_id: int | None
    stored_redirect_uris: Any  # the JSON column as the driver returns it; see ``redirect_uris``
    # RFC 7591 §2; None: as before the method was recorded (a secret by Basic or the form; none: public).
    token_endpoint_auth_method: str | None
    stored_jwks: Any  # the JSON column as the driver returns it; see ``jwks``
    jwks_uri: str | None
    dpop_bound: bool  # RFC 9449 §5.2 dpop_bound_access_tokens
    require_par: bool  # RFC 9126 §6 require_pushed_authorization_requests
    secret_sealed: bytes | None  # client_secret_jwt's secret, sealed (oauth/client_assertion.py)

    @classmethod
    def of(cls, cols: Sequence[Any]) -> ClientRow:
        (cid, identifier, secret_hash, grant_type, scope, policy, alg, service_id, redirect_uris, method, jwks,
         jwks_uri, dpop_bound, require_par, secret_sealed) = cols
        return cls(cid, identifier, bytes(secret_hash) if secret_hash is not None else None,
                   grant_types_of(grant_type), scope, policy, alg, service_id, redirect_uris, method, jwks, jwks_uri,
                   bool(dpop_bound), bool(require_par), bytes(secret_sealed) if secret_sealed is not None else None)

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        # Decoded when asked for: only a code exchange without a stored redirect URI needs them.
        return tuple(json_list(self.stored_redirect_uris))

    @property
    def jwks(self) -> dict[str, Any] | None:
        """The client's registered JWK Set (RFC 7517 §5), decoded when asked for (private_key_jwt, request
        objects)."""
        return json_object(self.stored_jwks)

    @property
    def public(self) -> bool:
        return is_public(self.secret_hash, self.token_endpoint_auth_method)


class ClientWithToken(NamedTuple):
    """The client, and the presented token when it is live and this client's (none, or one per kind)."""

    client: ClientRow
    tokens: tuple[LiveToken, ...]

    def token(self, hint: str | None) -> LiveToken | None:
        """The token; if both kinds matched, the kind ``hint`` names (RFC 7662 §2.1, RFC 7009 §2.1: a hint
        only orders the search), else the access token."""
        tokens = self.tokens
        if len(tokens) > 1:
            return sorted(tokens, key=lambda t: t.kind != (hint or "access_token"))[0]
        return tokens[0] if tokens else None

    @classmethod
    def of(cls, rows: Sequence[Sequence[Any]]) -> ClientWithToken | None:
        """From the rows of CLIENT_WITH_TOKEN_SQL (no row: no such client)."""
        if not rows:
            return None
        return cls(ClientRow.of(rows[0][:_WIDTH]),
                   tuple(LiveToken.of(row[_WIDTH:]) for row in rows if row[_WIDTH] is not None))


async def client_by_identifier(tx: Tx, identifier: str) -> ClientRow | None:
    row = await tx.one(CLIENT_SQL, identifier)
    return ClientRow.of(row) if row is not None else None


def credential(s: Session, identifier: str) -> OAuthCredential | None:
    """The whole credential behind a client identifier, for the pages and operations that work on it
    (the authorization and logout endpoints, the admin API)."""
    return s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == identifier))


async def client_with_token(tx: Tx, identifier: str, token_hash: bytes, at: Any) -> ClientWithToken | None:
    """CLIENT_WITH_TOKEN_SQL in a unit of work (revocation); the introspection reads it in store/lookups.py."""
    t = tx.ts(at)
    return ClientWithToken.of(await tx.all(CLIENT_WITH_TOKEN_SQL, token_hash, t, token_hash, t, identifier))
