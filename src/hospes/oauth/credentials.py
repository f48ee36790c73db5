"""OAuth credentials (OAuth clients): create, update, delete, list.

One set of rules for the CLI, the admin API (``CreateOAuthCredential`` …) and the admin pages; each change
records its own audit entry. Error messages are WHMCS's own words
(https://developers.whmcs.com/api-reference/createoauthcredential/, …/updateoauthcredential/,
…/deleteoauthcredential/).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now, utc
from hospes.oauth import scopes as scope_table
from hospes.secrets import check_secret, hash_secret
from hospes.store import clients, consents
from hospes.store import resources as resource_store
from hospes.store.grants import revoke_credential_grants_in
from hospes.store.models import (
    AccessToken,
    ClientAccount,
    Consent,
    OAuthCredential,
    Service,
)
from hospes.store.sql import drive, session_tx
from hospes.store.values import TextRefused, check_text, forbidden_character, row_id

GRANT_TYPES = ("authorization_code", "single_sign_on")
REFRESH_POLICIES = ("offline_access", "always", "never")
MAX_REDIRECT_URIS = 50
MAX_URI_LENGTH = 2000


class CredentialError(ValueError):
    """Bad input; the message is WHMCS's wording where WHMCS has one."""


def new_identifier(company: str) -> str:
    """``PREFIX.<32 hex>``: WHMCS's shape, without the ``+ / =`` of base64, which clients that do not
    form-encode the credentials in Basic authentication (RFC 6749 §2.3.1) send wrong."""
    prefix = re.sub(r"[^A-Z0-9]+", "-", company.upper()).strip("-")[:40] or "HOSPES"
    return f"{prefix}.{secrets.token_hex(16)}"


def new_secret() -> str:
    """256 bits, URL-safe base64 without padding: nothing a client could mis-encode."""
    return secrets.token_urlsafe(32)


def validate_redirect_uri(uri: str) -> str:
    """RFC 6749 §3.1.2: absolute, no fragment. RFC 9700 §4.1.1: exact match later, so no wildcards.

    Plain http is allowed only for loopback hosts (RFC 8252 §7.3); private-use schemes
    (``com.example.app:/cb``) are allowed for native apps (RFC 8252 §7.1).
    """
    uri = uri.strip()
    if not uri:
        raise CredentialError("A redirect URI must not be empty.")
    if len(uri) > MAX_URI_LENGTH:
        raise CredentialError(f"A redirect URI must be at most {MAX_URI_LENGTH} characters.")
    if any(c.isspace() for c in uri) or forbidden_character(uri) is not None:
        raise CredentialError(f"The redirect URI {uri!r} must not contain spaces or control characters.")
    try:
        parts = urlsplit(uri)
        parts.hostname  # noqa: B018 (parsed here: "http://[::1" raises)
    except ValueError:
        raise CredentialError(f"The redirect URI {uri!r} is not a valid URI.") from None
    if not parts.scheme:
        raise CredentialError(f"The redirect URI {uri!r} must be absolute.")
    if parts.fragment or "#" in uri:
        raise CredentialError("The redirect URI must not contain a fragment")
    if "*" in uri:
        raise CredentialError(f"The redirect URI {uri!r} must not contain wildcards.")
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise CredentialError(f"The redirect URI {uri!r} has no host.")
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise CredentialError(f"The redirect URI {uri!r} must use https (http only for loopback).")
    elif parts.scheme.lower() in ("javascript", "data", "vbscript", "file"):
        raise CredentialError(f"The redirect URI {uri!r} uses a forbidden scheme.")
    elif "." not in parts.scheme:
        # RFC 8252 §7.1: private-use schemes are reverse domain names.
        raise CredentialError(f"The redirect URI {uri!r} must use https, loopback http or a reverse-domain scheme.")
    return uri


def backchannel_logout_uri_value(value: str | None) -> str | None:
    """OpenID Connect Back-Channel Logout 1.0 §2.2: an absolute URL, no fragment; the redirect URIs' rules
    (https, plain http only for loopback), and only http(s): Hospes POSTs to it. Empty: none."""
    if value is None or not value.strip():
        return None
    try:
        uri = validate_redirect_uri(value)
    except CredentialError as exc:
        raise CredentialError(str(exc).replace("redirect URI", "back-channel logout URI")) from None
    if urlsplit(uri).scheme not in ("http", "https"):
        raise CredentialError(f"The back-channel logout URI {uri!r} must use https (http only for loopback).")
    return uri


def redirect_uri_list(value: list[str] | str | None) -> list[str]:
    """Each URI by ``validate_redirect_uri``, none twice, at most MAX_REDIRECT_URIS."""
    if value is None:
        return []
    items = value.split() if isinstance(value, str) else [u for v in value for u in v.split()]
    uris: list[str] = []
    for u in items:
        u = validate_redirect_uri(u)
        if u in uris:
            raise CredentialError(f"The redirect URI {u!r} is listed twice.")
        uris.append(u)
    if len(uris) > MAX_REDIRECT_URIS:
        raise CredentialError(f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered.")
    return uris


def scope_value(s: Session, value: str | None) -> str:
    """Hospes's own scopes and those of the operator's resource servers (oauth/resources.py)."""
    names = scope_table.parse(value)
    if not names:
        raise CredentialError("At least one valid scope is required.")
    unknown = [name for name in names if name not in scope_table.SCOPES]
    defined = drive(resource_store.scopes_named(session_tx(s), unknown)) if unknown else {}
    for name in unknown:
        if name not in defined:
            raise CredentialError(f'The requested scope "{name}" is invalid.')
    return scope_table.join(names)


def text_value(value: str | None, field: str, limit: int, *, multiline: bool = False) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise CredentialError(f"The {field} must be at most {limit} characters.")
    try:
        return check_text(value, f"The {field}", multiline=multiline)
    except TextRefused as exc:
        raise CredentialError(str(exc)) from None


def logo_value(value: str | None) -> str:
    value = text_value(value, "logo URI", MAX_URI_LENGTH)
    if value:
        parts = urlsplit(value)
        if parts.scheme and parts.scheme not in ("https", "http"):
            raise CredentialError("The logo URI must be an https URL or a relative path.")
    return value


def _service(s: Session, service_id: Any) -> int:
    sid = row_id(service_id)
    service = s.get(Service, sid) if sid is not None else None
    if sid is None or service is None:
        raise CredentialError("A valid Service ID is required.")
    if s.get(ClientAccount, service.client_id) is None:
        raise CredentialError("Service ID not associated with valid Client.")
    return sid


KINDS = ("admin", "dynamic", "metadata_document")


@dataclass(frozen=True)
class Registration:
    """What a client that introduced itself brings beside its credential: how (``kind``, one of KINDS but
    "admin"), the digest of its registration access token, its registered metadata, the caller's address;
    ``identifier``: the client's own (a metadata document's URL, oauth/metadata_documents.py), or None for a
    new one."""

    kind: str
    token_hash: bytes | None
    metadata: dict[str, Any]
    address: str
    identifier: str | None = None


@dataclass(frozen=True)
class CreatedCredential:
    credential_id: int
    client_identifier: str
    client_secret: str  # "" for a public client


def create(
    s: Session, *, grant_type: str | None, scope: str | None, name: str | None = None,
    service_id: Any = None, description: str | None = None, logo_uri: str | None = None,
    redirect_uris: list[str] | str | None = None, public: bool = False,
    post_logout_redirect_uris: list[str] | str | None = None,
    refresh_token_policy: str = "offline_access", id_token_signed_response_alg: str = "RS256",
    company: str = "Hospes", actor: str | None = None, ip: str = "", registration: Registration | None = None,
    backchannel_logout_uri: str | None = None, backchannel_logout_session_required: bool = False,
) -> CreatedCredential:
    """WHMCS CreateOAuthCredential, in WHMCS's order of checks. ``registration``: a client registering
    itself (oauth/registration.py), marked so (``kind``) with what its registration needs kept."""
    if not grant_type:
        raise CredentialError("A valid grant type is required.")
    if grant_type not in GRANT_TYPES:
        raise CredentialError(f'The requested grant type "{grant_type}" is invalid.')
    name = text_value(name, "name", 255)
    if grant_type == "authorization_code" and not name:
        raise CredentialError("A name for the Client Credential is required.")
    if grant_type == "single_sign_on" and service_id in (None, ""):
        raise CredentialError("A service ID is required for the single sign-on grant type.")
    scope = scope_value(s, scope)
    sid = _service(s, service_id) if grant_type == "single_sign_on" else None
    if refresh_token_policy not in REFRESH_POLICIES:
        raise CredentialError(f"The refresh token policy must be one of {', '.join(REFRESH_POLICIES)}.")
    if id_token_signed_response_alg not in ("RS256", "ES256"):
        raise CredentialError("The ID token signing algorithm must be RS256 or ES256.")
    if public and grant_type != "authorization_code":
        raise CredentialError("Only authorization_code credentials may be public.")
    secret = "" if public else new_secret()
    cred = OAuthCredential(
        identifier=new_identifier(company), secret_hash=hash_secret(secret) if secret else None,
        grant_type=grant_type, scope=scope, name=name,
        description=text_value(description, "description", 5000, multiline=True),
        logo_uri=logo_value(logo_uri), redirect_uris=redirect_uri_list(redirect_uris),
        post_logout_redirect_uris=redirect_uri_list(post_logout_redirect_uris), service_id=sid,
        refresh_token_policy=refresh_token_policy, id_token_signed_response_alg=id_token_signed_response_alg,
        backchannel_logout_uri=backchannel_logout_uri_value(backchannel_logout_uri),
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
    )
    if registration is not None:
        cred.kind = registration.kind
        cred.identifier = registration.identifier or cred.identifier
        cred.registration_token_hash = registration.token_hash
        cred.registration_metadata = dict(registration.metadata)
        cred.registered_from = registration.address[:64] or None
    s.add(cred)
    s.flush()
    audit.entry(s, actor, "oauth_credential.created", f"oauth_credential:{cred.id}", ip=ip,
                client_identifier=cred.identifier, name=cred.name, grant_type=grant_type, scope=cred.scope,
                redirect_uris=list(cred.redirect_uris), service_id=sid, public=public)
    return CreatedCredential(cred.id, cred.identifier, secret)


def find(s: Session, *, credential_id: Any = None, identifier: str | None = None) -> OAuthCredential:
    """By credentialId or clientApiIdentifier (UpdateOAuthCredential's rules)."""
    if credential_id not in (None, ""):
        cid = row_id(credential_id)
        cred = s.get(OAuthCredential, cid) if cid is not None else None
        if cred is None:
            raise CredentialError("Invalid Credential ID provided.")
        return cred
    if identifier:
        cred = clients.credential(s, identifier)
        if cred is None:
            raise CredentialError("Invalid Client Identifier provided.")
        return cred
    raise CredentialError("A Credential ID or Client Identifier is required.")


_UNSET: Any = object()
# What UpdateOAuthCredential may change; its audit entry names those that did.
_FIELDS = ("name", "description", "grant_type", "scope", "service_id", "logo_uri", "redirect_uris",
           "post_logout_redirect_uris", "refresh_token_policy", "id_token_signed_response_alg",
           "backchannel_logout_uri", "backchannel_logout_session_required")


def update_credential(
    s: Session, cred: OAuthCredential, *, name: Any = _UNSET, description: Any = _UNSET,
    grant_type: Any = _UNSET, scope: Any = _UNSET, service_id: Any = _UNSET, logo_uri: Any = _UNSET,
    redirect_uris: Any = _UNSET, post_logout_redirect_uris: Any = _UNSET, reset_secret: bool = False,
    refresh_token_policy: Any = _UNSET, id_token_signed_response_alg: Any = _UNSET, actor: str | None = None,
    ip: str = "", backchannel_logout_uri: Any = _UNSET, backchannel_logout_session_required: Any = _UNSET,
) -> str | None:
    """WHMCS UpdateOAuthCredential. Returns the new secret when ``reset_secret``.

    Records ``oauth_credential.updated`` with the fields whose values changed (none: no entry), then
    ``oauth_credential.secret_reset`` when the secret was reset.
    """
    before = {f: getattr(cred, f) for f in _FIELDS}
    new_grant = cred.grant_type if grant_type is _UNSET or grant_type in (None, "") else grant_type
    if new_grant not in GRANT_TYPES:
        raise CredentialError(f'The requested grant type "{new_grant}" is invalid.')
    new_name = cred.name if name is _UNSET else text_value(name, "name", 255)
    if new_grant == "authorization_code" and not new_name:
        raise CredentialError("A name for the Client Credential is required.")
    new_service = cred.service_id if service_id is _UNSET else service_id
    if new_grant == "single_sign_on" and new_service in (None, ""):
        raise CredentialError("A service ID is required for the single sign-on grant type.")
    if scope is not _UNSET:
        cred.scope = scope_value(s, scope)
    if new_grant == "single_sign_on" and service_id is not _UNSET:
        cred.service_id = _service(s, service_id)
    elif new_grant == "authorization_code":
        cred.service_id = None
    cred.grant_type = new_grant
    cred.name = new_name
    if description is not _UNSET:
        cred.description = text_value(description, "description", 5000, multiline=True)
    if logo_uri is not _UNSET:
        cred.logo_uri = logo_value(logo_uri)
    if redirect_uris is not _UNSET:
        cred.redirect_uris = redirect_uri_list(redirect_uris)
    if post_logout_redirect_uris is not _UNSET:
        cred.post_logout_redirect_uris = redirect_uri_list(post_logout_redirect_uris)
    if backchannel_logout_uri is not _UNSET:
        cred.backchannel_logout_uri = backchannel_logout_uri_value(backchannel_logout_uri)
    if backchannel_logout_session_required is not _UNSET:
        cred.backchannel_logout_session_required = bool(backchannel_logout_session_required)
    if refresh_token_policy is not _UNSET:
        if refresh_token_policy not in REFRESH_POLICIES:
            raise CredentialError(f"The refresh token policy must be one of {', '.join(REFRESH_POLICIES)}.")
        cred.refresh_token_policy = refresh_token_policy
    if id_token_signed_response_alg is not _UNSET:
        if id_token_signed_response_alg not in ("RS256", "ES256"):
            raise CredentialError("The ID token signing algorithm must be RS256 or ES256.")
        cred.id_token_signed_response_alg = id_token_signed_response_alg
    if reset_secret and cred.secret_hash is None:
        raise CredentialError("A public client has no secret to reset.")
    cred.updated_at = now()
    changed = [f for f in _FIELDS if getattr(cred, f) != before[f]]
    if changed:
        audit.entry(s, actor, "oauth_credential.updated", f"oauth_credential:{cred.id}", ip=ip, fields=sorted(changed))
    if not reset_secret:
        return None
    secret = give_secret(cred)
    audit.entry(s, actor, "oauth_credential.secret_reset", f"oauth_credential:{cred.id}", ip=ip,
                client_identifier=cred.identifier)
    return secret


def give_secret(cred: OAuthCredential) -> str:
    """A new secret for ``cred``, returned once: only its salted digest is kept, and the old secret (if any)
    stops working at once. It is what client authentication (oauth/client_auth.py) checks."""
    secret = new_secret()
    cred.secret_hash = hash_secret(secret)
    return secret


def check_client_secret(secret: str, stored: bytes | None) -> bool:
    """Whether ``secret`` is the one behind ``stored`` (constant time)."""
    return check_secret(secret, stored)


def delete_credential(s: Session, cred: OAuthCredential, *, actor: str | None = None, ip: str = "") -> None:
    """Remove the credential; every grant, token and consent issued to it goes with it."""
    audit.entry(s, actor, "oauth_credential.deleted", f"oauth_credential:{cred.id}", ip=ip,
                client_identifier=cred.identifier, name=cred.name)
    revoke_credential_grants_in(s, cred.id)
    consents.withdraw_all(s, cred.id)
    s.delete(cred)


def to_whmcs(cred: OAuthCredential) -> dict[str, Any]:
    """ListOAuthCredentials' fields. Secrets are stored hashed, so clientSecret is always empty."""
    def human(dt: Any) -> str:
        if dt is None:
            return ""
        day = dt.day
        suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{day}{suffix} {dt:%B %Y} {dt:%-I:%M:%S}{dt:%p}".replace("AM", "am").replace("PM", "pm")

    return {
        "credentialId": cred.id,
        "name": cred.name,
        "description": cred.description,
        "grantTypes": cred.grant_type,
        "scope": cred.scope,
        "clientIdentifier": cred.identifier,
        "clientSecret": "",
        "uuid": cred.uuid,
        "serviceId": cred.service_id or 0,
        "logoUri": cred.logo_uri,
        "redirectUri": list(cred.redirect_uris or []),
        "rsaKeyPairId": 0,
        "createdAt": human(cred.created_at),
        "updatedAt": human(cred.updated_at),
        "public": cred.secret_hash is None,
        "postLogoutRedirectUri": list(cred.post_logout_redirect_uris or []),
        "refreshTokenPolicy": cred.refresh_token_policy,
        "backchannelLogoutUri": cred.backchannel_logout_uri or "",
        "backchannelLogoutSessionRequired": bool(cred.backchannel_logout_session_required),
    }


@dataclass(frozen=True)
class CredentialRow:
    """An OAuth credential as the admin pages show it (its secret is never stored, only whether it has one)."""

    id: int
    identifier: str
    name: str
    description: str
    logo_uri: str
    grant_type: str
    scope: str
    redirect_uris: tuple[str, ...]
    public: bool  # no secret (RFC 6749 §2.1)
    kind: str = "admin"  # KINDS: "dynamic" registered itself (RFC 7591)
    registered_from: str = ""
    backchannel_logout_uri: str = ""  # OpenID Connect Back-Channel Logout 1.0 (oauth/backchannel.py)
    backchannel_logout_session_required: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()  # OpenID Connect RP-Initiated Logout 1.0 §3.1
    refresh_token_policy: str = "offline_access"  # REFRESH_POLICIES
    id_token_signed_response_alg: str = "RS256"  # OpenID Connect Dynamic Client Registration 1.0 §2


def credential_row(cred: OAuthCredential) -> CredentialRow:
    return CredentialRow(id=cred.id, identifier=cred.identifier, name=cred.name, description=cred.description,
                         logo_uri=cred.logo_uri, grant_type=cred.grant_type, scope=cred.scope,
                         redirect_uris=tuple(cred.redirect_uris or ()), public=cred.secret_hash is None,
                         kind=cred.kind or "admin", registered_from=cred.registered_from or "",
                         backchannel_logout_uri=cred.backchannel_logout_uri or "",
                         backchannel_logout_session_required=bool(cred.backchannel_logout_session_required),
                         post_logout_redirect_uris=tuple(cred.post_logout_redirect_uris or ()),
                         refresh_token_policy=cred.refresh_token_policy or "offline_access",
                         id_token_signed_response_alg=cred.id_token_signed_response_alg or "RS256")


@dataclass(frozen=True)
class CredentialUsage:
    """How much a credential is used, for the admin's credential page."""

    people: int  # people whose approval (consent) it holds
    last_token_at: datetime | None  # the newest access token issued to it that is still kept (store/purge.py)


def usage(s: Session, credential_id: int) -> CredentialUsage:
    people = s.scalar(select(func.count(func.distinct(Consent.user_id))).where(Consent.credential_id == credential_id))
    last = s.scalar(select(func.max(AccessToken.issued_at)).where(AccessToken.credential_id == credential_id))
    return CredentialUsage(people=int(people or 0), last_token_at=utc(last) if last is not None else None)


def get_credential(s: Session, credential_id: int) -> CredentialRow | None:
    cred = s.get(OAuthCredential, credential_id)
    return credential_row(cred) if cred is not None else None


def credential_rows(s: Session) -> list[CredentialRow]:
    """Every OAuth credential, in id order (``list_credentials``' default)."""
    return [credential_row(c) for c in list_credentials(s)]


def list_credentials(s: Session, *, grant_type: str | None = None, sort_field: str | None = None,
                     sort_order: str | None = None, limit: Any = None) -> list[OAuthCredential]:
    columns = {
        "id": OAuthCredential.id, "credentialId": OAuthCredential.id, "name": OAuthCredential.name,
        "grantTypes": OAuthCredential.grant_type, "grant_types": OAuthCredential.grant_type,
        "identifier": OAuthCredential.identifier, "clientIdentifier": OAuthCredential.identifier,
        "created_at": OAuthCredential.created_at, "createdAt": OAuthCredential.created_at,
        "updated_at": OAuthCredential.updated_at, "updatedAt": OAuthCredential.updated_at,
        "serviceId": OAuthCredential.service_id, "service_id": OAuthCredential.service_id,
    }
    q = select(OAuthCredential)
    if grant_type:
        q = q.where(OAuthCredential.grant_type == grant_type)
    col = columns.get(sort_field or "id", OAuthCredential.id)
    q = q.order_by(col.desc() if (sort_order or "").upper() == "DESC" else col.asc(), OAuthCredential.id)
    if limit not in (None, ""):
        try:
            n = int(limit)
        except (TypeError, ValueError):
            raise CredentialError("limit must be a whole number.") from None
        if n > 0:
            q = q.limit(n)
    return list(s.scalars(q))
