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


def authenticate(
    s: Session, authorization: str | None, form: Mapping[str, Sequence[str]], *, allow_public: bool = True
) -> AuthenticatedClient:
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
    cred = s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == client_id))
    if method == "none":
        if cred is None or cred.secret_hash is not None or not allow_public:
            # bshaffer/WHMCS wording, kept for compatibility.
            raise errors.InvalidClient("This client is invalid or must authenticate using a client secret")
    else:
        # Checked even when the client is unknown, so timing tells nothing.
        ok = check_secret(secret or "", cred.secret_hash if cred else None)
        if cred is None or not ok:
            raise errors.InvalidClient("The client credentials are invalid", basic=basic is not None)
    return AuthenticatedClient(
        id=cred.id, identifier=cred.identifier, grant_type=cred.grant_type, scope=cred.scope,
        public=cred.secret_hash is None, refresh_token_policy=cred.refresh_token_policy,
        id_token_signed_response_alg=cred.id_token_signed_response_alg, service_id=cred.service_id,
        redirect_uris=tuple(cred.redirect_uris or ()),
    )
