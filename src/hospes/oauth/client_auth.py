"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).

Methods: client_secret_basic, client_secret_post, and none (public clients, which must use PKCE).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.oauth import errors
from hospes.oauth.tokens import check_secret
from hospes.store.models import OAuthCredential
from hospes.store.sql import Tx, json_list

MAX_LEN = 512


@dataclass(frozen=True)
class AuthenticatedClient:
    id: int
    identifier: str
    grant_type: str
    scope: str
    public: bool
    refresh_token_policy: str
    id_token_signed_response_alg: str
    service_id: int | None
    redirect_uris: tuple[str, ...]


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.InvalidClient("The Authorization header is malformed.", basic=True) from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise errors.InvalidClient("The Authorization header is malformed.", basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    user, password = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
    if "\x00" in user or "\x00" in password:  # PostgreSQL text cannot hold NUL: refuse, don't crash
        raise errors.InvalidClient("The Authorization header is malformed.", basic=True)
    return user, password


def _one(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = form.get(name) or []
    if len(values) > 1:
        raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
    return values[0] if values else None


@dataclass(frozen=True)
class Presented:
    """What the request presents: a client_id, maybe a secret, and the method they came by."""

    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none
    basic: bool


def presented(authorization: str | None, form: Mapping[str, Sequence[str]]) -> Presented:
    basic = _basic(authorization) if authorization else None
    form_id = _one(form, "client_id")
    form_secret = _one(form, "client_secret")
    if basic is not None:
        if form_secret is not None:
            # RFC 6749 §2.3: "The client MUST NOT use more than one authentication method."
            raise errors.InvalidRequest("Use one client authentication method, not several.")
        client_id, secret = basic
        if form_id is not None and form_id != client_id:
            raise errors.InvalidClient("The client_id does not match the authenticated client.", basic=True)
        method = "client_secret_basic"
    else:
        client_id, secret = form_id or "", form_secret  # type: ignore[assignment]
        method = "client_secret_post" if secret is not None else "none"
    if not client_id:
        raise errors.InvalidClient("client credentials are required", basic=basic is not None)
    if len(client_id) > MAX_LEN or (secret is not None and len(secret) > MAX_LEN):
        raise errors.InvalidClient("The client credentials are invalid", basic=basic is not None)
    return Presented(client_id, secret, method, basic is not None)


def verify(p: Presented, secret_hash: bytes | None, *, known: bool, allow_public: bool = True) -> None:
    """Raise unless the presented credentials authenticate the client stored with ``secret_hash``."""
    if p.method == "none":
        if not known or secret_hash is not None or not allow_public:
            # bshaffer/WHMCS wording, kept for compatibility.
            raise errors.InvalidClient("This client is invalid or must authenticate using a client secret")
    else:
        # Checked even when the client is unknown, so timing tells nothing.
        ok = check_secret(p.secret or "", secret_hash if known else None)
        if not known or not ok:
            raise errors.InvalidClient("The client credentials are invalid", basic=p.basic)


def authenticate(
    s: Session, authorization: str | None, form: Mapping[str, Sequence[str]], *, allow_public: bool = True
) -> AuthenticatedClient:
    p = presented(authorization, form)
    cred = s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == p.client_id))
    verify(p, cred.secret_hash if cred else None, known=cred is not None, allow_public=allow_public)
    assert cred is not None
    return AuthenticatedClient(
        id=cred.id, identifier=cred.identifier, grant_type=cred.grant_type, scope=cred.scope,
        public=cred.secret_hash is None, refresh_token_policy=cred.refresh_token_policy,
        id_token_signed_response_alg=cred.id_token_signed_response_alg, service_id=cred.service_id,
        redirect_uris=tuple(cred.redirect_uris or ()),
    )


CLIENT_SQL = (
    "SELECT id, identifier, secret_hash, grant_type, scope, refresh_token_policy, id_token_signed_response_alg, "
    "service_id, redirect_uris FROM oauth_credentials WHERE identifier = %s"
)


async def authenticate_tx(tx: Tx, p: Presented, *, allow_public: bool = True) -> AuthenticatedClient:
    """``authenticate`` in plain SQL, for the token endpoint's write path (store/writer.py)."""
    row = await tx.one(CLIENT_SQL, p.client_id)
    secret_hash = bytes(row[2]) if row is not None and row[2] is not None else None
    verify(p, secret_hash, known=row is not None, allow_public=allow_public)
    assert row is not None
    cid, identifier, _, grant_type, scope, policy, alg, service_id, redirect_uris = row
    return AuthenticatedClient(
        id=cid, identifier=identifier, grant_type=grant_type, scope=scope, public=secret_hash is None,
        refresh_token_policy=policy, id_token_signed_response_alg=alg, service_id=service_id,
        redirect_uris=tuple(json_list(redirect_uris)),
    )
