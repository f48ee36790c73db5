"""OAuth credentials (OAuth clients): create, update, delete, list.

One set of rules for the CLI, the admin API (``CreateOAuthCredential`` …) and the admin pages; each change
records its own audit entry. Error messages are WHMCS's own words
(https://developers.whmcs.com/api-reference/createoauthcredential/, …/updateoauthcredential/,
…/deleteoauthcredential/).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now, utc
from hospes.oauth import scopes as scope_table
from hospes.sealing import Sealer
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

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
SINGLE_SIGN_ON = "single_sign_on"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, SINGLE_SIGN_ON, CLIENT_CREDENTIALS, DEVICE_CODE, TOKEN_EXCHANGE)
# Grants a person approves, seeing the credential by its name.
PERSON_GRANTS = frozenset({AUTHORIZATION_CODE, DEVICE_CODE})
# Grants that may issue refresh tokens: ``refresh_token`` is listed only beside one of them. Refresh tokens
# follow the credential's refresh_token_policy, as before (a credential of an earlier release lists
# authorization_code alone and keeps getting them); listing refresh_token says so in RFC 7591's words.
REFRESHING_GRANTS = frozenset({AUTHORIZATION_CODE, DEVICE_CODE, TOKEN_EXCHANGE})
# What a public client (no secret, no keys: RFC 6749 §2.1) may use; client_credentials needs a confidential
# client (RFC 6749 §4.4).
PUBLIC_GRANTS = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN, DEVICE_CODE})
# RFC 7591 §2 token_endpoint_auth_method; the JWT ones are RFC 7523 §2.2 / OIDC Core §9.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none")
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post", "client_secret_jwt"})
MAX_JWKS_KEYS = 20
MAX_JWKS_BYTES = 65536
MIN_RSA_BITS = 2048  # RFC 7518 §3.3
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


def new_secret(method: str | None = None) -> str:
    """256 bits, URL-safe base64 without padding: nothing a client could mis-encode. A client_secret_jwt
    secret is an HMAC key, which must be at least as long as the hash (RFC 7518 §3.2): 512 bits, for HS512."""
    return secrets.token_urlsafe(64 if method == "client_secret_jwt" else 32)


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


def grant_types_value(value: str | Iterable[str] | None) -> str:
    """The grant types, space separated as stored (store/clients.py ``grant_types_of``): each one of
    GRANT_TYPES, none twice; single_sign_on alone (a credential bound to one service); refresh_token only
    beside a grant that issues refresh tokens. ``value``: a space-separated string or several."""
    items = (value or "").split() if value is None or isinstance(value, str) else [
        g for v in value for g in v.split()]
    if not items:
        raise CredentialError("A valid grant type is required.")
    names: list[str] = []
    for name in items:
        if name not in GRANT_TYPES:
            raise CredentialError(f'The requested grant type "{name}" is invalid.')
        if name not in names:
            names.append(name)
    if SINGLE_SIGN_ON in names and len(names) > 1:
        raise CredentialError("The single_sign_on grant type cannot be combined with others.")
    if REFRESH_TOKEN in names and not REFRESHING_GRANTS.intersection(names):
        raise CredentialError("refresh_token needs a grant type that issues refresh tokens "
                              "(authorization_code, the device grant or token exchange).")
    return " ".join(names)


def auth_method_value(value: str | None) -> str | None:
    """RFC 7591 §2 token_endpoint_auth_method, one of AUTH_METHODS; empty: None (as before it was recorded)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value not in AUTH_METHODS:
        raise CredentialError(f"The token endpoint auth method must be one of {', '.join(AUTH_METHODS)}.")
    return value


def jwks_value(value: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """A client's JWK Set (RFC 7517 §5) as JSON text or an object; empty: None. Public keys only (RFC 7591
    §2: the client's public keys; a private or symmetric one is refused, never stored), each importable,
    RSA of at least MIN_RSA_BITS, none meant for encryption only, at most MAX_JWKS_KEYS."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if len(value) > MAX_JWKS_BYTES:
            raise CredentialError(f"The JWK Set must be at most {MAX_JWKS_BYTES} bytes.")
        try:
            value = json.loads(value)
        except ValueError:
            raise CredentialError("The JWK Set is not valid JSON.") from None
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys:
        raise CredentialError('The JWK Set must be a JSON object with a non-empty "keys" array.')
    if len(keys) > MAX_JWKS_KEYS:
        raise CredentialError(f"The JWK Set may hold at most {MAX_JWKS_KEYS} keys.")
    for jwk in keys:
        if not isinstance(jwk, dict):
            raise CredentialError("Each key of the JWK Set must be a JSON object.")
        if jwk.get("kty") not in ("RSA", "EC", "OKP"):
            raise CredentialError("Each key must be an RSA, EC or OKP public key (kty).")
        if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "oth", "k")):
            raise CredentialError("The JWK Set must hold public keys only: a private key was given.")
        if jwk.get("use") not in (None, "sig"):
            raise CredentialError('A key of the JWK Set is not for signatures ("use" must be "sig").')
    try:
        imported = KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError):
        raise CredentialError("The JWK Set holds a key that cannot be read.") from None
    for key in imported.keys:
        raw = key.raw_value
        if isinstance(raw, RSAPublicKey) and raw.key_size < MIN_RSA_BITS:
            raise CredentialError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    if len(json.dumps(keys)) > MAX_JWKS_BYTES:
        raise CredentialError(f"The JWK Set must be at most {MAX_JWKS_BYTES} bytes.")
    return {"keys": keys}


def jwks_uri_value(value: str | None) -> str | None:
    """RFC 7591 §2 jwks_uri: an https URL (fetched by oauth/fetch.py's rules, which take https only), no
    fragment; empty: None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_URI_LENGTH:
        raise CredentialError(f"The JWKS URI must be at most {MAX_URI_LENGTH} characters.")
    if not value.isascii() or any(c.isspace() for c in value) or forbidden_character(value) is not None:
        raise CredentialError("The JWKS URI must be ASCII, without spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (parsed here: a bad port raises)
    except ValueError:
        raise CredentialError("The JWKS URI is not a valid URL.") from None
    if parts.scheme != "https" or not parts.hostname:
        raise CredentialError("The JWKS URI must be an https URL.")
    if parts.fragment or "#" in value:
        raise CredentialError("The JWKS URI must not contain a fragment.")
    return value


# client_secret_jwt's secret is the HMAC key of the client's assertions (RFC 7523 §2.2, RFC 7518 §3.2), so
# it must be kept, not only its digest: sealed under a key derived from the server's secret key, bound to
# the client's identifier (a sealed secret copied onto another credential does not open there).
_SECRET_PURPOSE = b"hospes client secret encryption"


def seal_secret(secret_key: bytes, identifier: str, secret: str) -> bytes:
    return Sealer(secret_key, _SECRET_PURPOSE).seal(secret.encode("utf-8"), f"client:{identifier}".encode())


def open_secret(secret_key: bytes, identifier: str, sealed: bytes) -> str | None:
    """The secret sealed by ``seal_secret`` for ``identifier``; None when it does not open (another key, row)."""
    opened = Sealer(secret_key, _SECRET_PURPOSE).open(sealed, f"client:{identifier}".encode())
    return opened.decode("utf-8") if opened is not None else None


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
    s: Session, *, grant_type: str | Iterable[str] | None, scope: str | None, name: str | None = None,
    service_id: Any = None, description: str | None = None, logo_uri: str | None = None,
    redirect_uris: list[str] | str | None = None, public: bool = False,
    post_logout_redirect_uris: list[str] | str | None = None,
    refresh_token_policy: str = "offline_access", id_token_signed_response_alg: str = "RS256",
    company: str = "Hospes", actor: str | None = None, ip: str = "", registration: Registration | None = None,
    backchannel_logout_uri: str | None = None, backchannel_logout_session_required: bool = False,
    token_endpoint_auth_method: str | None = None, jwks: dict[str, Any] | str | None = None,
    jwks_uri: str | None = None, dpop_bound: bool = False, require_par: bool = False,
    secret_key: bytes | None = None,
) -> CreatedCredential:
    """WHMCS CreateOAuthCredential, in WHMCS's order of checks. ``grant_type``: one grant type or several
    (``grant_types_value``). ``registration``: a client registering itself (oauth/registration.py), marked so
    (``kind``) with what its registration needs kept. ``secret_key``: the server's, to seal the secret of a
    client_secret_jwt credential (``seal_secret``)."""
    grants = grant_types_value(grant_type)
    names = clients.grant_types_of(grants)
    name = text_value(name, "name", 255)
    if PERSON_GRANTS & names and not name:
        raise CredentialError("A name for the Client Credential is required.")
    if SINGLE_SIGN_ON in names and service_id in (None, ""):
        raise CredentialError("A service ID is required for the single sign-on grant type.")
    scope = scope_value(s, scope)
    sid = _service(s, service_id) if SINGLE_SIGN_ON in names else None
    if refresh_token_policy not in REFRESH_POLICIES:
        raise CredentialError(f"The refresh token policy must be one of {', '.join(REFRESH_POLICIES)}.")
    if id_token_signed_response_alg not in ("RS256", "ES256"):
        raise CredentialError("The ID token signing algorithm must be RS256 or ES256.")
    method = auth_method_value(token_endpoint_auth_method)
    public = public or method == "none"
    keys = key_rules(method, jwks_value(jwks), jwks_uri_value(jwks_uri), public=public, grants=names)
    if method == "client_secret_jwt" and secret_key is None:
        raise CredentialError("client_secret_jwt credentials are made with the server's secret key.")
    secret = "" if public or method == "private_key_jwt" else new_secret(method)
    cred = OAuthCredential(
        identifier=new_identifier(company), secret_hash=hash_secret(secret) if secret else None,
        grant_type=grants, scope=scope, name=name,
        description=text_value(description, "description", 5000, multiline=True),
        logo_uri=logo_value(logo_uri), redirect_uris=redirect_uri_list(redirect_uris),
        post_logout_redirect_uris=redirect_uri_list(post_logout_redirect_uris), service_id=sid,
        refresh_token_policy=refresh_token_policy, id_token_signed_response_alg=id_token_signed_response_alg,
        backchannel_logout_uri=backchannel_logout_uri_value(backchannel_logout_uri),
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
        token_endpoint_auth_method=method, jwks=keys[0], jwks_uri=keys[1], dpop_bound=bool(dpop_bound),
        require_par=bool(require_par),
    )
    if registration is not None:
        cred.kind = registration.kind
        cred.identifier = registration.identifier or cred.identifier
        cred.registration_token_hash = registration.token_hash
        cred.registration_metadata = dict(registration.metadata)
        cred.registered_from = registration.address[:64] or None
    if method == "client_secret_jwt" and secret_key is not None:
        cred.secret_sealed = seal_secret(secret_key, cred.identifier, secret)
    s.add(cred)
    s.flush()
    audit.entry(s, actor, "oauth_credential.created", f"oauth_credential:{cred.id}", ip=ip,
                client_identifier=cred.identifier, name=cred.name, grant_type=grants, scope=cred.scope,
                redirect_uris=list(cred.redirect_uris), service_id=sid, public=public,
                token_endpoint_auth_method=method, jwks_uri=cred.jwks_uri, dpop_bound=cred.dpop_bound,
                require_par=cred.require_par)
    return CreatedCredential(cred.id, cred.identifier, secret)


def key_rules(method: str | None, jwks: dict[str, Any] | None, jwks_uri: str | None, *, public: bool,
              grants: frozenset[str]) -> tuple[dict[str, Any] | None, str | None]:
    """The one rule set joining a credential's grant types, how it authenticates and its keys (``jwks`` and
    ``jwks_uri`` already checked by ``jwks_value`` and ``jwks_uri_value``); dynamic registration's too."""
    if public and method not in (None, "none"):
        raise CredentialError("A public client authenticates with none: it has no secret and no keys.")
    if public and not grants <= PUBLIC_GRANTS:
        raise CredentialError("Only authorization_code and device grant credentials may be public.")
    if jwks is not None and jwks_uri is not None:
        # RFC 7591 §2: "The jwks_uri and jwks parameters MUST NOT both be present in the same request."
        raise CredentialError("Give the client's keys as jwks or as jwks_uri, not both.")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise CredentialError("private_key_jwt needs the client's public keys (jwks or jwks_uri).")
    return jwks, jwks_uri


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
           "backchannel_logout_uri", "backchannel_logout_session_required", "token_endpoint_auth_method", "jwks",
           "jwks_uri", "dpop_bound", "require_par")


def update_credential(
    s: Session, cred: OAuthCredential, *, name: Any = _UNSET, description: Any = _UNSET,
    grant_type: Any = _UNSET, scope: Any = _UNSET, service_id: Any = _UNSET, logo_uri: Any = _UNSET,
    redirect_uris: Any = _UNSET, post_logout_redirect_uris: Any = _UNSET, reset_secret: bool = False,
    refresh_token_policy: Any = _UNSET, id_token_signed_response_alg: Any = _UNSET, actor: str | None = None,
    ip: str = "", backchannel_logout_uri: Any = _UNSET, backchannel_logout_session_required: Any = _UNSET,
    token_endpoint_auth_method: Any = _UNSET, jwks: Any = _UNSET, jwks_uri: Any = _UNSET,
    dpop_bound: Any = _UNSET, require_par: Any = _UNSET, secret_key: bytes | None = None,
) -> str | None:
    """WHMCS UpdateOAuthCredential. Returns the new secret when ``reset_secret``, or when a new way of
    authenticating needs a secret the credential did not have (private_key_jwt to a secret method).

    A public client stays public and a confidential one confidential (``none`` cannot be chosen or left):
    a client's copies of its credentials would silently stop meaning what they did. Moving to
    private_key_jwt removes the secret. Records ``oauth_credential.updated`` with the fields whose values
    changed (none: no entry), then ``oauth_credential.secret_reset`` when a new secret was given.
    """
    before = {f: getattr(cred, f) for f in _FIELDS}
    was_public = clients.is_public(cred.secret_hash, cred.token_endpoint_auth_method)
    new_grant = cred.grant_type if grant_type is _UNSET or grant_type in (None, "") else grant_types_value(grant_type)
    names = clients.grant_types_of(new_grant)
    new_name = cred.name if name is _UNSET else text_value(name, "name", 255)
    if PERSON_GRANTS & names and not new_name:
        raise CredentialError("A name for the Client Credential is required.")
    new_service = cred.service_id if service_id is _UNSET else service_id
    if SINGLE_SIGN_ON in names and new_service in (None, ""):
        raise CredentialError("A service ID is required for the single sign-on grant type.")
    if scope is not _UNSET:
        cred.scope = scope_value(s, scope)
    if SINGLE_SIGN_ON in names and service_id is not _UNSET:
        cred.service_id = _service(s, service_id)
    elif SINGLE_SIGN_ON not in names:
        cred.service_id = None
    method = cred.token_endpoint_auth_method
    if token_endpoint_auth_method is not _UNSET:
        method = auth_method_value(token_endpoint_auth_method)
        if method is not None and (method == "none") != was_public:
            raise CredentialError("A client cannot change between public and confidential; create a new one.")
    new_jwks = cred.jwks if jwks is _UNSET else jwks_value(jwks)
    new_jwks_uri = cred.jwks_uri if jwks_uri is _UNSET else jwks_uri_value(jwks_uri)
    if jwks is not _UNSET and jwks_uri is _UNSET and new_jwks is not None:
        new_jwks_uri = None  # one replaces the other (RFC 7591 §2: never both)
    if jwks_uri is not _UNSET and jwks is _UNSET and new_jwks_uri is not None:
        new_jwks = None
    key_rules(method, new_jwks, new_jwks_uri, public=was_public, grants=names)
    if method == "client_secret_jwt" and cred.secret_sealed is None and secret_key is None:
        raise CredentialError("client_secret_jwt credentials are made with the server's secret key.")
    cred.grant_type = new_grant
    cred.name = new_name
    cred.token_endpoint_auth_method = method
    cred.jwks, cred.jwks_uri = new_jwks, new_jwks_uri
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
    if dpop_bound is not _UNSET:
        cred.dpop_bound = bool(dpop_bound)
    if require_par is not _UNSET:
        cred.require_par = bool(require_par)
    if refresh_token_policy is not _UNSET:
        if refresh_token_policy not in REFRESH_POLICIES:
            raise CredentialError(f"The refresh token policy must be one of {', '.join(REFRESH_POLICIES)}.")
        cred.refresh_token_policy = refresh_token_policy
    if id_token_signed_response_alg is not _UNSET:
        if id_token_signed_response_alg not in ("RS256", "ES256"):
            raise CredentialError("The ID token signing algorithm must be RS256 or ES256.")
        cred.id_token_signed_response_alg = id_token_signed_response_alg
    if reset_secret and (was_public or method == "private_key_jwt"):
        raise CredentialError("A public client has no secret to reset." if was_public
                              else "A private_key_jwt client has no secret to reset.")
    if method == "private_key_jwt":
        cred.secret_hash = cred.secret_sealed = None
    elif method != "client_secret_jwt":
        cred.secret_sealed = None
    needs_secret = not was_public and method != "private_key_jwt" and (
        cred.secret_hash is None or (method == "client_secret_jwt" and cred.secret_sealed is None))
    cred.updated_at = now()
    changed = [f for f in _FIELDS if getattr(cred, f) != before[f]]
    if changed:
        audit.entry(s, actor, "oauth_credential.updated", f"oauth_credential:{cred.id}", ip=ip, fields=sorted(changed))
    if not (reset_secret or needs_secret):
        return None
    secret = give_secret(cred, secret_key)
    audit.entry(s, actor, "oauth_credential.secret_reset", f"oauth_credential:{cred.id}", ip=ip,
                client_identifier=cred.identifier)
    return secret


def give_secret(cred: OAuthCredential, secret_key: bytes | None = None) -> str:
    """A new secret for ``cred``, returned once: only its salted digest is kept (and, for client_secret_jwt,
    the secret sealed under ``secret_key``), and the old secret (if any) stops working at once. It is what
    client authentication (oauth/client_auth.py) checks."""
    secret = new_secret(cred.token_endpoint_auth_method)
    cred.secret_hash = hash_secret(secret)
    if cred.token_endpoint_auth_method == "client_secret_jwt":
        if secret_key is None:
            raise CredentialError("client_secret_jwt credentials are made with the server's secret key.")
        cred.secret_sealed = seal_secret(secret_key, cred.identifier, secret)
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
    """ListOAuthCredentials' fields. Secrets are stored hashed, so clientSecret is always empty. Beside
    WHMCS's own: the back-channel logout URI, how the client authenticates (tokenEndpointAuthMethod: as
    recorded, or what a credential without one uses), its keys, dpopBound, requirePar. grantTypes is the
    space-separated list (a credential of one grant type: that name, as WHMCS gives it)."""
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
        "public": clients.is_public(cred.secret_hash, cred.token_endpoint_auth_method),
        "postLogoutRedirectUri": list(cred.post_logout_redirect_uris or []),
        "refreshTokenPolicy": cred.refresh_token_policy,
        "backchannelLogoutUri": cred.backchannel_logout_uri or "",
        "backchannelLogoutSessionRequired": bool(cred.backchannel_logout_session_required),
        "tokenEndpointAuthMethod": effective_auth_method(cred.secret_hash, cred.token_endpoint_auth_method),
        "jwks": cred.jwks or "",
        "jwksUri": cred.jwks_uri or "",
        "dpopBound": bool(cred.dpop_bound),
        "requirePar": bool(cred.require_par),
    }


def effective_auth_method(secret_hash: bytes | None, recorded: str | None) -> str:
    """How a client authenticates: as recorded, or (none recorded) RFC 7591 §2's default for a client with a
    secret, client_secret_basic (client_secret_post is accepted as well), or none for a public one."""
    if recorded is not None:
        return recorded
    return "none" if secret_hash is None else "client_secret_basic"


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
    token_endpoint_auth_method: str = "client_secret_basic"  # effective_auth_method
    jwks_uri: str = ""
    has_jwks: bool = False
    dpop_bound: bool = False
    require_par: bool = False

    @property
    def grant_types(self) -> frozenset[str]:
        return clients.grant_types_of(self.grant_type)
    post_logout_redirect_uris: tuple[str, ...] = ()  # OpenID Connect RP-Initiated Logout 1.0 §3.1
    refresh_token_policy: str = "offline_access"  # REFRESH_POLICIES
    id_token_signed_response_alg: str = "RS256"  # OpenID Connect Dynamic Client Registration 1.0 §2


def credential_row(cred: OAuthCredential) -> CredentialRow:
    return CredentialRow(id=cred.id, identifier=cred.identifier, name=cred.name, description=cred.description,
                         logo_uri=cred.logo_uri, grant_type=cred.grant_type, scope=cred.scope,
                         redirect_uris=tuple(cred.redirect_uris or ()),
                         public=clients.is_public(cred.secret_hash, cred.token_endpoint_auth_method),
                         kind=cred.kind or "admin", registered_from=cred.registered_from or "",
                         backchannel_logout_uri=cred.backchannel_logout_uri or "",
                         backchannel_logout_session_required=bool(cred.backchannel_logout_session_required),
                         token_endpoint_auth_method=effective_auth_method(cred.secret_hash,
                                                                          cred.token_endpoint_auth_method),
                         jwks_uri=cred.jwks_uri or "", has_jwks=cred.jwks is not None,
                         dpop_bound=bool(cred.dpop_bound), require_par=bool(cred.require_par),
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
        # The credentials that list it (a space-separated list: alone, first, last or between).
        listed = OAuthCredential.grant_type
        q = q.where(or_(listed == grant_type, listed.startswith(grant_type + " ", autoescape=True),
                        listed.endswith(" " + grant_type, autoescape=True),
                        listed.contains(" " + grant_type + " ", autoescape=True)))
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
