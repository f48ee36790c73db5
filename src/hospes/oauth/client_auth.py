"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).

Methods: client_secret_basic, client_secret_post, and none (public clients, which must use PKCE).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import NamedTuple
from urllib.parse import unquote

from hospes.oauth import errors
from hospes.oauth.params import one
from hospes.secrets import check_secret
from hospes.store.clients import ClientRow, client_by_identifier
from hospes.store.sql import Tx

MAX_LEN = 512


class AuthenticatedClient(NamedTuple):
    """A client that has authenticated (or a public client that presented its client_id)."""

    id: int
    identifier: str
    grant_types: frozenset[str]  # what the credential may use (oauth/credentials.py GRANT_TYPES)
    scope: str
    public: bool
    refresh_token_policy: str
    id_token_signed_response_alg: str
    service_id: int | None
    row: ClientRow

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return self.row.redirect_uris

    @property
    def token_endpoint_auth_method(self) -> str | None:
        """As registered (RFC 7591 §2); None: as before it was recorded (a secret, or none when public)."""
        return self.row.token_endpoint_auth_method

    @property
    def jwks(self) -> dict[str, object] | None:
        return self.row.jwks

    @property
    def jwks_uri(self) -> str | None:
        return self.row.jwks_uri

    @property
    def dpop_bound(self) -> bool:
        """RFC 9449 §5.2: its access tokens must be DPoP-bound."""
        return self.row.dpop_bound

    @property
    def require_par(self) -> bool:
        """RFC 9126 §6: its authorization requests must be pushed."""
        return self.row.require_par


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.InvalidClient("The Authorization header is malformed.") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise errors.InvalidClient("The Authorization header is malformed.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    user, password = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
    if "\x00" in user or "\x00" in password:  # PostgreSQL text cannot hold NUL: refuse, don't crash
        raise errors.InvalidClient("The Authorization header is malformed.")
    return user, password


class Presented(NamedTuple):
    """What the request presents: a client_id, maybe a secret, and the method they came by."""

    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def presented(authorization: str | None, form: Mapping[str, Sequence[str]]) -> Presented:
    """What the request presents (RFC 6749 §2.3.1), before any stored client is looked at."""
    basic = _basic(authorization) if authorization else None
    form_id = one(form, "client_id", limit=None)
    form_secret = one(form, "client_secret", limit=None)
    if basic is not None:
        if form_secret is not None:
            # RFC 6749 §2.3: "The client MUST NOT use more than one authentication method."
            raise errors.InvalidRequest("Use one client authentication method, not several.")
        client_id, secret = basic
        if form_id is not None and form_id != client_id:
            raise errors.InvalidClient("The client_id does not match the authenticated client.")
        method = "client_secret_basic"
    else:
        client_id, secret = form_id or "", form_secret  # type: ignore[assignment]
        method = "client_secret_post" if secret is not None else "none"
    if not client_id:
        raise errors.InvalidClient("client credentials are required")
    if len(client_id) > MAX_LEN or (secret is not None and len(secret) > MAX_LEN):
        raise errors.InvalidClient("The client credentials are invalid")
    return Presented(client_id, secret, method)


def check(p: Presented, row: ClientRow | None, *, allow_public: bool = True) -> AuthenticatedClient:
    """The rule: the client ``row`` (None: no client has that identifier) authenticated by ``p``, or
    InvalidClient. The token endpoint, introspection and revocation all decide here."""
    secret_hash = row.secret_hash if row is not None else None
    if p.method == "none":
        if row is None or not row.public or not allow_public:
            # bshaffer/WHMCS wording, kept for compatibility.
            raise errors.InvalidClient("This client is invalid or must authenticate using a client secret")
    else:
        # Checked even when the client is unknown, so timing tells nothing.
        ok = check_secret(p.secret or "", secret_hash)
        if row is None or not ok:
            raise errors.InvalidClient("The client credentials are invalid")
    assert row is not None
    return AuthenticatedClient(
        id=row.id, identifier=row.identifier, grant_types=row.grant_types, scope=row.scope, public=row.public,
        refresh_token_policy=row.refresh_token_policy, id_token_signed_response_alg=row.id_token_signed_response_alg,
        service_id=row.service_id, row=row,
    )


async def authenticate(tx: Tx, p: Presented, *, allow_public: bool = True) -> AuthenticatedClient:
    """Read the client named by ``p`` in ``tx`` and ``check`` it (an ORM session: ``session_tx``)."""
    return check(p, await client_by_identifier(tx, p.client_id), allow_public=allow_public)
