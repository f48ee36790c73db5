"""Client authentication at the token, revocation, introspection and PAR endpoints (RFC 6749 §2.3).

Methods: client_secret_basic, client_secret_post, none (public clients, which must use PKCE), and a JWT
(RFC 7523 §2.2: private_key_jwt, client_secret_jwt; the rules in oauth/client_assertion.py).

``presented`` reads what the request presents, before any stored client is looked at; ``check`` decides
against the client's row; ``authenticate`` reads the row in a transaction, checks, and records an
assertion's jti there (store/replay.py), so an assertion is used once on every node.

The credential's ``token_endpoint_auth_method`` is enforced: a private_key_jwt or client_secret_jwt client
authenticates only with its JWT, never with a secret; a JWT is accepted only from such a client; a client
registered for client_secret_basic or client_secret_post may send its secret either way (RFC 6749 §2.3.1
has servers accept Basic, and both carry the same secret); a public client only as none.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import NamedTuple
from urllib.parse import unquote

from hospes.clock import now
from hospes.oauth import client_assertion, errors
from hospes.oauth.client_assertion import Unverified, VerifiedAssertion, Verifier
from hospes.oauth.params import one
from hospes.secrets import check_secret
from hospes.store import replay
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
    # The client assertion it authenticated with (RFC 7523), whose jti ``authenticate`` records; None otherwise.
    assertion: VerifiedAssertion | None = None

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
    """What the request presents: a client_id, maybe a secret or an assertion, and the method they came by."""

    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none | client_assertion
    assertion: Unverified | None = None  # RFC 7523 §2.2, read but not yet verified


# Client authentication's own parameters (a grant reads the others).
PARAMETERS = frozenset({"client_id", "client_secret", "client_assertion", "client_assertion_type"})


def presented(authorization: str | None, form: Mapping[str, Sequence[str]]) -> Presented:
    """What the request presents (RFC 6749 §2.3.1, RFC 7521 §4.2), before any stored client is looked at."""
    basic = _basic(authorization) if authorization else None
    form_id = one(form, "client_id", limit=None)
    form_secret = one(form, "client_secret", limit=None)
    assertion = one(form, "client_assertion", limit=None)
    assertion_type = one(form, "client_assertion_type", limit=None)
    if assertion is not None or assertion_type is not None:
        if basic is not None or form_secret is not None:
            # RFC 6749 §2.3: "The client MUST NOT use more than one authentication method."
            raise errors.InvalidRequest("Use one client authentication method, not several.")
        if assertion is None or assertion_type is None:
            # RFC 7521 §4.2: both parameters, or neither.
            raise errors.InvalidRequest("client_assertion and client_assertion_type go together.")
        u = client_assertion.parse(assertion, assertion_type)
        if form_id is not None and form_id != u.client_id:
            # RFC 7521 §4.2: a client_id sent must identify the client of the assertion.
            raise errors.InvalidClient("The client_id does not match the client assertion.")
        return Presented(u.client_id, None, "client_assertion", u)
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


# The methods a client may present, by its registered token_endpoint_auth_method (None: as before one was
# recorded: a secret either way, or none for a public client).
_ACCEPTS = {
    "client_secret_basic": ("client_secret_basic", "client_secret_post"),
    "client_secret_post": ("client_secret_basic", "client_secret_post"),
    "private_key_jwt": ("client_assertion",),
    "client_secret_jwt": ("client_assertion",),
    "none": ("none",),
}


def check(p: Presented, row: ClientRow | None, *, allow_public: bool = True,
          verifier: Verifier | None = None) -> AuthenticatedClient:
    """The rule: the client ``row`` (None: no client has that identifier) authenticated by ``p``, or
    InvalidClient. The token endpoint, introspection, revocation and PAR all decide here. ``verifier``: the
    endpoint's, for a client assertion (none: assertions are not accepted there)."""
    secret_hash = row.secret_hash if row is not None else None
    assertion = None
    if p.assertion is not None:
        if row is None or verifier is None:
            raise errors.InvalidClient("The client credentials are invalid")
        _method_allowed(p, row)
        assertion = verifier.verify(p.assertion, row)
    elif p.method == "none":
        if row is None or not row.public or not allow_public:
            # bshaffer/WHMCS wording, kept for compatibility.
            raise errors.InvalidClient("This client is invalid or must authenticate using a client secret")
    else:
        # Checked even when the client is unknown, so timing tells nothing.
        ok = check_secret(p.secret or "", secret_hash)
        if row is None or not ok:
            raise errors.InvalidClient("The client credentials are invalid")
        _method_allowed(p, row)
    assert row is not None
    return AuthenticatedClient(
        id=row.id, identifier=row.identifier, grant_types=row.grant_types, scope=row.scope, public=row.public,
        refresh_token_policy=row.refresh_token_policy, id_token_signed_response_alg=row.id_token_signed_response_alg,
        service_id=row.service_id, row=row, assertion=assertion,
    )


def _method_allowed(p: Presented, row: ClientRow) -> None:
    registered = row.token_endpoint_auth_method
    if registered is None:
        if p.method == "client_assertion":
            raise errors.InvalidClient("This client does not authenticate with a JWT.")
        return
    if p.method not in _ACCEPTS.get(registered, ()):
        # A client registered for a JWT never falls back to its secret (nor the other way round).
        raise errors.InvalidClient(f"This client must authenticate with {registered}.")


async def authenticate(tx: Tx, p: Presented, *, allow_public: bool = True,
                       verifier: Verifier | None = None) -> AuthenticatedClient:
    """Read the client named by ``p`` in ``tx``, ``check`` it, and record its assertion's jti in ``tx`` (an ORM
    session: ``session_tx``). A client assertion whose client's keys are not held raises
    client_assertion.KeysNeeded: run it under ``client_assertion.keys_then``."""
    client = check(p, await client_by_identifier(tx, p.client_id), allow_public=allow_public, verifier=verifier)
    if client.assertion is not None:
        await record_assertion(tx, client)
    return client


async def record_assertion(tx: Tx, client: AuthenticatedClient) -> None:
    """RFC 7523 §3 item 7: the assertion's jti used once; a second use (any node) is invalid_client."""
    assert client.assertion is not None
    digest = replay.key(client.identifier, client.assertion.jti)
    if not await replay.first_use(tx, replay.CLIENT_ASSERTION, digest, client.assertion.expires_at, at=now()):
        raise errors.InvalidClient("The client assertion has been used already (its jti).")
