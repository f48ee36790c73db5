"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-03).

A client may introduce itself with no registration at all: its ``client_id`` is an https URL, and the JSON
document at that URL is its metadata (the RFC 7591 §2 names). The authorization endpoint, before anything
else and outside any transaction (``introduce``), fetches the document by the SSRF rules of oauth/fetch.py,
checks it, and keeps it as an OAuth credential like any other, whose identifier is the URL and whose kind is
"metadata_document", so the consent page says that no one vetted it and the token endpoint finds it by its
identifier as a public client (it never fetches: the authorization did). The copy is kept as long as the
answer's Cache-Control max-age says, within bounds, so a client's later authorizations fetch nothing while
it is fresh.

What is refused, with a page that says why (never a redirect: the redirect URI is not trusted yet, RFC 6749
§4.1.2.1): a URL the draft's §"Client Identifier URL" forbids, a document that cannot be fetched, one that is
not a JSON object, whose ``client_id`` is not the URL exactly, without ``redirect_uris``, or that asks to
authenticate with a shared secret (no secret can be shared with a client no one registered; the draft's
§"Client Authentication" forbids the client_secret_* methods). ``private_key_jwt`` is not offered yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth import credentials, errors, fetch, registration
from hospes.oauth.provider import Provider
from hospes.store import clients
from hospes.store.db import Database
from hospes.store.models import OAuthCredential
from hospes.store.values import forbidden_character

KIND = "metadata_document"
# The draft (§"Maximum Response Size") suggests 5 kilobytes; documents in use are larger (claude.ai's passed
# 5120 bytes: https://github.com/cloudflare/mcp/pull/46), so a little more room.
DOCUMENT_LIMIT = 16 * 1024
MAX_URL = 255  # oauth_credentials.identifier
# The draft (§"Metadata Caching"): respect the HTTP cache headers, within the server's own bounds.
MIN_AGE = timedelta(minutes=5)
MAX_AGE = timedelta(hours=24)
DEFAULT_AGE = timedelta(hours=1)


def _refused(message: str) -> errors.InvalidRedirect:
    return errors.InvalidRedirect("invalid_client", message)


def names_a_document(client_id: str) -> bool:
    """Whether ``client_id`` is meant as a URL (Hospes's own identifiers never hold "://")."""
    return "://" in client_id


def check_url(client_id: str) -> None:
    """The draft's §"Client Identifier URL": https, a host, a path, no fragment, no user name or password, no
    "." or ".." path segments."""
    if len(client_id) > MAX_URL:
        raise _refused(f"The client id URL is longer than {MAX_URL} characters.")
    if not client_id.isascii():  # RFC 3986 §2
        raise _refused("The client id URL must be written in ASCII (an international host in its xn-- form).")
    if any(c.isspace() for c in client_id) or forbidden_character(client_id) is not None:
        raise _refused("The client id URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(client_id)
        parts.port  # noqa: B018 (parsed here: a bad port raises)
    except ValueError:
        raise _refused("The client id is not a valid URL.") from None
    if parts.scheme != "https":
        raise _refused("A client id URL must use https.")
    if not parts.hostname:
        raise _refused("The client id URL has no host.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refused("The client id URL must not contain a user name or password.")
    if "#" in client_id:
        raise _refused("The client id URL must not contain a fragment.")
    if parts.path in ("", "/"):
        raise _refused("The client id URL must have a path (https://example.com/client.json).")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise _refused('The client id URL must not contain "." or ".." path segments.')


@dataclass(frozen=True)
class Document:
    """A metadata document, checked: its metadata, and until when the copy is fresh."""

    metadata: registration.ClientMetadata
    expires_at: datetime


def parse(client_id: str, body: bytes) -> registration.ClientMetadata:
    """The document's metadata, checked by the draft's rules and RFC 7591 §2's (oauth/registration.py)."""
    try:
        doc: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _refused("The client's metadata document is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise _refused("The client's metadata document is not a JSON object.")
    # The draft (§"Client ID Metadata Document"): client_id is the URL, compared as strings, not normalised.
    if doc.get("client_id") != client_id:
        raise _refused("The client's metadata document names another client_id than its own URL.")
    if "client_secret" in doc or "client_secret_expires_at" in doc:
        raise _refused("The client's metadata document must not contain a client secret.")
    method = doc.get("token_endpoint_auth_method", "none")
    if method in ("client_secret_basic", "client_secret_post", "client_secret_jwt"):
        raise _refused(f"The client's metadata document asks for {method}, a shared secret, which a client "
                       "identified by a metadata document cannot have; it must use none (with PKCE).")
    if method == "private_key_jwt":
        raise _refused("The client's metadata document asks for private_key_jwt, which Hospes does not offer "
                       "such clients yet; use none (with PKCE).")
    if method != "none":
        raise _refused("The client's metadata document's token_endpoint_auth_method must be none.")
    try:
        # Omitted, the method is none here (RFC 7591 §2's default, client_secret_basic, cannot apply).
        return registration.parse_metadata({**doc, "token_endpoint_auth_method": method})
    except errors.OAuthError as exc:
        raise _refused(f"The client's metadata document is not valid: {exc.description}") from None


def _expiry(max_age: int | None) -> datetime:
    age = DEFAULT_AGE if max_age is None else timedelta(seconds=max_age)
    return now() + min(max(age, MIN_AGE), MAX_AGE)


def fetch_document(provider: Provider, client_id: str) -> Document:
    try:
        got = fetch.fetch(client_id, allow_private=provider.settings.fetch_allow_private, limit=DOCUMENT_LIMIT)
    except fetch.FetchError as exc:
        raise _refused(f"The client's metadata document could not be fetched: {exc}") from None
    return Document(parse(client_id, got.body), _expiry(got.max_age))


def _fresh(provider: Provider, client_id: str) -> bool:
    with provider.db.read() as s:
        cred = clients.credential(s, client_id)
        if cred is not None and cred.kind != KIND:
            raise _refused("The client id supplied is invalid")
        return cred is not None and cred.metadata_expires_at is not None and utc(cred.metadata_expires_at) > now()


# Admits one fetch in the caller's transaction: 0, or the seconds to wait (web/ passes accounts/throttle.py's).
Admit = Callable[[Session], int]


def introduce(provider: Provider, client_ids: Sequence[str] | None, admit: Admit) -> None:
    """The authorization endpoint's client lookup hook, called with the request's ``client_id`` values before
    its transaction: a URL whose document is not kept fresh is fetched and kept (a page when it cannot be).
    Each fetch is first ``admit``ted: whoever sends the request chooses the URL, so a caller may not make
    Hospes fetch (and store) documents without limit."""
    if not client_ids or len(client_ids) != 1 or not names_a_document(client_ids[0]):
        return  # not a document's URL: the endpoint's own rules answer
    client_id = client_ids[0]
    check_url(client_id)
    if _fresh(provider, client_id):
        return
    with provider.db.transaction() as s:
        wait = admit(s)
    if wait:
        raise _refused(f"Too many applications were introduced from this address; try again in "
                       f"{max(1, -(-wait // 60))} minutes.")
    store(provider.db, client_id, fetch_document(provider, client_id), company=provider.settings.company_name)


def store(db: Database, client_id: str, document: Document, *, company: str) -> None:
    """``keep`` in a transaction of its own; when another request stored the same client first (both found
    none; PostgreSQL lets the second insert fail on the unique identifier), this copy replaces that one."""
    try:
        with db.transaction() as s:
            keep(s, client_id, document, company=company)
    except IntegrityError:
        with db.transaction() as s:
            keep(s, client_id, document, company=company)


def keep(s: Session, client_id: str, document: Document, *, company: str) -> None:
    """The document stored as the client ``client_id``: created, or brought up to date."""
    meta = document.metadata
    name = meta.client_name or urlsplit(client_id).hostname or client_id
    cred = clients.credential(s, client_id)
    try:
        if cred is None:
            made = credentials.create(
                s, grant_type="authorization_code", scope=meta.scope, name=name, logo_uri=meta.logo_uri,
                redirect_uris=list(meta.redirect_uris), public=True,
                refresh_token_policy=registration.refresh_policy(meta), company=company, actor=KIND,
                registration=credentials.Registration(KIND, None, meta.stored, "", identifier=client_id))
            cred = s.get(OAuthCredential, made.credential_id)
            assert cred is not None
        else:
            credentials.update_credential(
                s, cred, name=name, scope=meta.scope, logo_uri=meta.logo_uri, redirect_uris=list(meta.redirect_uris),
                refresh_token_policy=registration.refresh_policy(meta), actor=KIND)
            cred.registration_metadata = meta.stored
    except credentials.CredentialError as exc:  # a scope no resource server defines
        raise _refused(f"The client's metadata document is not valid: {exc}") from None
    cred.metadata_expires_at = document.expires_at
