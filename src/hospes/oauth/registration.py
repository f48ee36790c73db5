"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

A client registers itself by posting its metadata; it becomes an OAuth credential like any other (the rules
of oauth/credentials.py: redirect URIs, scopes, names), marked ``kind="dynamic"`` so that the consent page
and the admin area say it was not vetted. It gets a registration access token (only its digest is kept) to
read, replace or delete its own registration at ``registration_client_uri``.

How registration is let in is the operator's choice (HOSPES_REGISTRATION): ``open`` (each address at most
HOSPES_REGISTRATION_LIMIT an hour, counted by the caller's ``admit``: accounts/throttle.py, which this layer
does not import), ``token`` (an initial access token, RFC 7591 §3, from ``hospes registration-tokens
create``) or ``off``.

Metadata (RFC 7591 §2) that Hospes does not use is ignored; values it cannot honour are refused with
``invalid_client_metadata``, bad redirect URIs with ``invalid_redirect_uri`` (§3.2.2). Defaults follow §2:
``grant_types`` ["authorization_code"], ``response_types`` ["code"], ``token_endpoint_auth_method``
``client_secret_basic`` (a client that wants none must say so: it is then public and must use PKCE).

Every method of credentials.AUTH_METHODS may be registered, the JWT ones of RFC 7523 §2.2 too: a
``client_secret_jwt`` client is issued a secret (kept sealed, the HMAC key of its assertions), a
``private_key_jwt`` client none, but its public keys, as ``jwks`` or ``jwks_uri`` (§2: never both). The keys
pass the rules an operator's credential does (credentials.py ``jwks_value``, ``jwks_uri_value``, ``key_rules``:
public keys only, https; a jwks_uri is fetched by oauth/fetch.py's rules against request forgery), and serve the
client's assertions (client_assertion.py) and request objects (request_object.py).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now, utc
from hospes.oauth import credentials, errors, redirects
from hospes.oauth import scopes as scope_table
from hospes.secrets import digest, new_token
from hospes.store import clients
from hospes.store.models import OAuthCredential, RegistrationToken
from hospes.store.values import forbidden_character

MODES = ("open", "token", "off")
AUTH_METHODS = credentials.AUTH_METHODS
GRANT_TYPES = ("authorization_code", "refresh_token")
APPLICATION_TYPES = ("web", "native")
# RFC 7591 §2 ("If omitted, an authorization server MAY register a client with a default set of scopes"):
# signing in and the customer API, what a person can be asked for on the consent page. Never WHMCS's
# clientarea:* and sso:* scopes, which open the client area itself: a self-registered client may not have those.
REGISTRABLE_SCOPES = (*scope_table.OIDC_SCOPES, *scope_table.API_SCOPES)
DEFAULT_SCOPE = scope_table.join(REGISTRABLE_SCOPES)
# How often a dynamic client's last use is written at most (an authorization within a day is news enough).
LAST_USED_STEP = timedelta(days=1)


class RegistrationOff(Exception):
    """HOSPES_REGISTRATION=off: the endpoint does not exist."""


class TooManyRegistrations(errors.OAuthError):
    """The address's registrations this hour are used up (``wait``: seconds until one ages out)."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, wait: int) -> None:
        super().__init__("Too many registrations from this address; try again later.")
        self.wait = wait


# Admits one registration from an address in the caller's transaction: 0, or the seconds to wait.
Admit = Callable[[Session, str], int]


def address_key(address: str) -> str:
    """What the per-address limit counts: an IPv4 address, or the /64 of an IPv6 one (a single host is
    usually given a whole /64, RFC 6177 §2, and could otherwise register from each of its addresses)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class ClientMetadata:
    """The metadata Hospes registers (RFC 7591 §2), validated, with the defaults applied."""

    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    application_type: str
    client_name: str
    client_uri: str
    logo_uri: str
    scope: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def stored(self) -> dict[str, Any]:
        """What the credential's columns do not hold, kept as registered (RFC 7592 §3 echoes it)."""
        return {"token_endpoint_auth_method": self.token_endpoint_auth_method,
                "grant_types": list(self.grant_types), "response_types": list(self.response_types),
                "application_type": self.application_type, "client_uri": self.client_uri}


def _strings(body: Mapping[str, Any], name: str, default: tuple[str, ...],
             error: type[errors.OAuthError] = errors.InvalidClientMetadata) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 100:
        raise error(f"{name} must be an array of strings.")
    return tuple(dict.fromkeys(value))  # order kept, duplicates dropped


def _string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise errors.InvalidClientMetadata(f"{name} must be a string.")
    return value


def _web_uri(value: str | None, name: str) -> str:
    """An absolute https URL (a page about the client, its logo), or nothing."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.hostname  # noqa: B018 (parsed here: "https://[::1" raises)
    except ValueError:
        raise errors.InvalidClientMetadata(f"{name} must be an https URL.") from None
    if (len(value) > credentials.MAX_URI_LENGTH or parts.scheme != "https" or not parts.hostname
            or forbidden_character(value) is not None or any(c.isspace() for c in value)):
        raise errors.InvalidClientMetadata(f"{name} must be an https URL.")
    return value


def parse_metadata(body: Any) -> ClientMetadata:
    """RFC 7591 §2 metadata from the parsed JSON body: the values Hospes uses, checked; the rest ignored."""
    if not isinstance(body, dict):
        raise errors.InvalidClientMetadata("The request body must be a JSON object of client metadata.")
    application_type = _string(body, "application_type") or "web"
    if application_type not in APPLICATION_TYPES:
        raise errors.InvalidClientMetadata("application_type must be web or native.")
    uris = _strings(body, "redirect_uris", (), errors.InvalidRedirectUri)
    if not uris:
        # RFC 7591 §2: required for the redirect-based flows, the only ones registration offers here.
        raise errors.InvalidRedirectUri("redirect_uris is required: at least one redirect URI.")
    if any(not u or any(c.isspace() for c in u) for u in uris):
        raise errors.InvalidRedirectUri("A redirect URI must not be empty or contain spaces.")
    try:
        checked = credentials.redirect_uri_list(list(uris))
    except credentials.CredentialError as exc:
        raise errors.InvalidRedirectUri(str(exc)) from None
    if application_type == "web":
        # RFC 8252 §7.1: private-use URI schemes belong to native apps; a web client redirects over https
        # (or, while it is developed, to a loopback address, RFC 8252 §7.3).
        for uri in checked:
            if urlsplit(uri).scheme not in ("https", "http"):
                raise errors.InvalidRedirectUri(
                    f"The redirect URI {uri!r} uses a private-use scheme: register with application_type native.")

    method = _string(body, "token_endpoint_auth_method") or "client_secret_basic"  # RFC 7591 §2's default
    if method not in AUTH_METHODS:
        raise errors.InvalidClientMetadata(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}.")
    grant_types = _strings(body, "grant_types", ("authorization_code",))
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        raise errors.InvalidClientMetadata(f"The grant type {unknown[0]!r} cannot be registered; "
                                           "use authorization_code (and refresh_token).")
    if "authorization_code" not in grant_types:
        raise errors.InvalidClientMetadata("grant_types must include authorization_code.")
    jwks, jwks_uri = _client_keys(body, method, grant_types)
    response_types = _strings(body, "response_types", ("code",))
    # RFC 7591 §2.1: authorization_code goes with the response type code, and code is the only one here.
    if response_types != ("code",):
        raise errors.InvalidClientMetadata("response_types must be code alone, to go with authorization_code.")

    try:
        name = credentials.text_value(_string(body, "client_name"), "client_name", 255)
    except credentials.CredentialError as exc:
        raise errors.InvalidClientMetadata(str(exc)) from None
    scope = _string(body, "scope")
    names = scope_table.parse(scope) if scope is not None else list(REGISTRABLE_SCOPES)
    if not names:
        raise errors.InvalidClientMetadata("scope must name at least one scope.")
    for n in names:
        if n in scope_table.SCOPES and n not in REGISTRABLE_SCOPES:
            raise errors.InvalidClientMetadata(f"The scope {n!r} is not available to registered clients.")
        if len(n) > 128 or forbidden_character(n) is not None:
            raise errors.InvalidClientMetadata("scope holds a value that is not a scope.")
    return ClientMetadata(
        redirect_uris=tuple(checked), token_endpoint_auth_method=method, grant_types=grant_types,
        response_types=response_types, application_type=application_type, client_name=name,
        client_uri=_web_uri(_string(body, "client_uri"), "client_uri"),
        logo_uri=_web_uri(_string(body, "logo_uri"), "logo_uri"), scope=scope_table.join(names),
        jwks=jwks, jwks_uri=jwks_uri,
    )


def _client_keys(body: Mapping[str, Any], method: str,
                 grant_types: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """RFC 7591 §2 ``jwks`` (a JSON object, a JWK Set) and ``jwks_uri``, by the rules of an operator's credential."""
    jwks = body.get("jwks")
    if jwks is not None and not isinstance(jwks, dict):
        raise errors.InvalidClientMetadata("jwks must be a JSON object, a JWK Set (RFC 7517 section 5).")
    try:
        return credentials.key_rules(method, credentials.jwks_value(jwks),
                                     credentials.jwks_uri_value(_string(body, "jwks_uri")),
                                     public=method == "none", grants=frozenset(grant_types))
    except credentials.CredentialError as exc:
        raise _as_client_metadata(exc) from None


def _fallback_name(meta: ClientMetadata) -> str:
    """A name for a client that gave none: where it sends people back to."""
    host = urlsplit(meta.redirect_uris[0]).hostname
    if redirects.loopback_without_port(meta.redirect_uris[0]) is not None or host == "localhost":
        return "An application on this computer"
    return host or urlsplit(meta.redirect_uris[0]).scheme


@dataclass(frozen=True)
class Registered:
    """The answer to a registration or a read (RFC 7591 §3.2.1, RFC 7592 §3), as JSON values."""

    body: dict[str, Any]


def _answer(cred: OAuthCredential, issuer: str, *, secret: str | None = None, token: str | None = None) -> Registered:
    meta: dict[str, Any] = dict(cred.registration_metadata or {})
    body: dict[str, Any] = {"client_id": cred.identifier}
    if secret:
        body["client_secret"] = secret
    body["client_id_issued_at"] = int(utc(cred.created_at).timestamp()) if cred.created_at else int(now().timestamp())
    if cred.secret_hash is not None:
        body["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: 0, it does not expire
    if token:
        body["registration_access_token"] = token
    body["registration_client_uri"] = f"{issuer}/oauth/register/{cred.identifier}"
    body.update({"redirect_uris": list(cred.redirect_uris or []), "client_name": cred.name, "scope": cred.scope,
                 "grant_types": meta.get("grant_types", ["authorization_code"]),
                 "response_types": meta.get("response_types", ["code"]),
                 "token_endpoint_auth_method": meta.get("token_endpoint_auth_method", "client_secret_basic"),
                 "application_type": meta.get("application_type", "web")})
    if cred.logo_uri:
        body["logo_uri"] = cred.logo_uri
    if cred.jwks is not None:
        body["jwks"] = cred.jwks
    if cred.jwks_uri:
        body["jwks_uri"] = cred.jwks_uri
    if meta.get("client_uri"):
        body["client_uri"] = meta["client_uri"]
    return Registered(body)


def refresh_policy(meta: ClientMetadata) -> str:
    """The refresh token policy of a client that introduced itself with ``meta``."""
    # A client that registers the refresh_token grant gets refresh tokens; one that does not, none.
    return "always" if "refresh_token" in meta.grant_types else "never"


def _as_client_metadata(exc: credentials.CredentialError) -> errors.InvalidClientMetadata:
    return errors.InvalidClientMetadata(str(exc))


def _use_initial_token(s: Session, token: str | None) -> None:
    """RFC 7591 §3: the initial access token must be valid; one use of it is taken, atomically."""
    if not token:
        raise errors.InvalidToken("Registration needs an initial access token (Authorization: Bearer).")
    t = now()
    used = s.execute(
        update(RegistrationToken)
        .where(RegistrationToken.token_hash == digest(token),
               or_(RegistrationToken.uses_left.is_(None), RegistrationToken.uses_left > 0),
               or_(RegistrationToken.expires_at.is_(None), RegistrationToken.expires_at > t))
        .values(uses_left=RegistrationToken.uses_left - 1)
        .execution_options(synchronize_session=False))
    if getattr(used, "rowcount", 0) != 1:
        raise errors.InvalidToken("The initial access token is not valid.")


def turn_away(s: Session, *, mode: str, address: str, peek: Admit) -> None:
    """Before the write: an open registration from an address over its limit is refused from a read alone
    (``peek``, no lock), so a flood does not queue for the database's write lock; ``register`` decides."""
    if mode == "open":
        wait = peek(s, address_key(address))
        if wait:
            raise TooManyRegistrations(wait)


def register(s: Session, meta: ClientMetadata, *, mode: str, issuer: str, address: str, admit: Admit,
             secret_key: bytes, initial_token: str | None = None, company: str = "Hospes") -> Registered:
    """RFC 7591 §3.1: let the registration in by ``mode``, create the client, answer §3.2.1. ``secret_key``:
    the server's, which seals a client_secret_jwt client's secret (credentials.py ``seal_secret``)."""
    if mode == "off":
        raise RegistrationOff
    if mode == "token":
        _use_initial_token(s, initial_token)
    else:
        wait = admit(s, address_key(address))
        if wait:
            raise TooManyRegistrations(wait)
    token = new_token()
    try:
        made = credentials.create(
            s, grant_type="authorization_code", scope=meta.scope, name=meta.client_name or _fallback_name(meta),
            logo_uri=meta.logo_uri, redirect_uris=list(meta.redirect_uris), public=meta.public,
            refresh_token_policy=refresh_policy(meta), company=company, actor="registration", ip=address,
            registration=credentials.Registration("dynamic", digest(token), meta.stored, address),
            token_endpoint_auth_method=meta.token_endpoint_auth_method, jwks=meta.jwks, jwks_uri=meta.jwks_uri,
            secret_key=secret_key)
    except credentials.CredentialError as exc:  # a scope no resource server defines
        raise _as_client_metadata(exc) from None
    cred = s.get(OAuthCredential, made.credential_id)
    assert cred is not None
    return _answer(cred, issuer, secret=made.client_secret or None, token=token)


def _registered(s: Session, client_id: str, token: str | None) -> OAuthCredential:
    """RFC 7592 §2: the client whose registration access token this is, or invalid_token (401) — also for a
    client that does not exist (§2.1: "MUST respond with HTTP 401")."""
    cred = clients.credential(s, client_id) if client_id and len(client_id) <= 200 else None
    expected = cred.registration_token_hash if cred is not None and cred.kind == "dynamic" else None
    presented = digest(token or "")
    # Constant time, and compared even when there is nothing to compare with.
    ok = hmac.compare_digest(presented, expected or b"\0" * 32) and expected is not None and bool(token)
    if not ok or cred is None:
        raise errors.InvalidToken("The registration access token is not valid for this client.")
    return cred


def read(s: Session, client_id: str, token: str | None, *, issuer: str) -> Registered:
    """RFC 7592 §2.1: the client's current registration."""
    return _answer(_registered(s, client_id, token), issuer)


def replace(s: Session, client_id: str, token: str | None, body: Any, *, issuer: str, address: str,
            secret_key: bytes) -> Registered:
    """RFC 7592 §2.2: the registration replaced by the metadata sent (omitted values take their defaults, keys
    none)."""
    cred = _registered(s, client_id, token)
    if not isinstance(body, dict):
        raise errors.InvalidClientMetadata("The request body must be a JSON object of client metadata.")
    if body.get("client_id") != cred.identifier:
        raise errors.InvalidRequest("client_id must be sent, and be this client's.")  # RFC 7592 §2.2
    meta = parse_metadata(body)
    sent_secret = body.get("client_secret")
    if sent_secret is not None and not (isinstance(sent_secret, str)
                                        and credentials.check_client_secret(sent_secret, cred.secret_hash)):
        # RFC 7592 §2.2: a client_secret sent must be the current one.
        raise errors.InvalidRequest("client_secret does not match the client's secret.")
    if meta.public != clients.is_public(cred.secret_hash, cred.token_endpoint_auth_method):
        # Unlike an operator's credential, a registration may turn public or confidential: it is replaced whole.
        # Its new method is set first, so update_credential takes it as the client's kind: a client that becomes
        # public has no secret any more; one that becomes confidential is given one there (or, for
        # private_key_jwt, has its keys).
        cred.token_endpoint_auth_method = meta.token_endpoint_auth_method
        if meta.public:
            cred.secret_hash = cred.secret_sealed = None
    try:
        secret = credentials.update_credential(
            s, cred, name=meta.client_name or _fallback_name(meta), scope=meta.scope, logo_uri=meta.logo_uri,
            redirect_uris=list(meta.redirect_uris), refresh_token_policy=refresh_policy(meta),
            token_endpoint_auth_method=meta.token_endpoint_auth_method, jwks=meta.jwks, jwks_uri=meta.jwks_uri,
            actor="registration", ip=address, secret_key=secret_key)
    except credentials.CredentialError as exc:
        raise _as_client_metadata(exc) from None
    cred.registration_metadata = meta.stored
    return _answer(cred, issuer, secret=secret)


def delete(s: Session, client_id: str, token: str | None, *, address: str) -> None:
    """RFC 7592 §2.3: the client is gone, and every grant, token and consent it held."""
    cred = _registered(s, client_id, token)
    credentials.delete_credential(s, cred, actor="registration", ip=address)


def mark_used(s: Session, credential_id: int, at: datetime) -> None:
    """A dynamic client sent through an authorization: its registration is in use (the purge keeps it).
    Written at most once per LAST_USED_STEP, so a busy client's row is rarely locked."""
    s.execute(update(OAuthCredential)
              .where(OAuthCredential.id == credential_id, OAuthCredential.kind != "admin",
                     or_(OAuthCredential.last_used_at.is_(None), OAuthCredential.last_used_at < at - LAST_USED_STEP))
              .values(last_used_at=at).execution_options(synchronize_session=False))


# -- initial access tokens (RFC 7591 §3) ----------------------------------------------------------


@dataclass(frozen=True)
class InitialToken:
    id: int
    token: str
    uses: int | None
    expires_at: datetime | None


def create_initial_token(s: Session, *, uses: int | None = None, expires_in: int | None = None,
                         actor: str | None = "cli") -> InitialToken:
    """A new initial access token (shown once; only its digest is kept)."""
    if uses is not None and not 1 <= uses <= 1_000_000:
        raise credentials.CredentialError("--uses must be from 1 to 1000000.")
    if expires_in is not None and not 1 <= expires_in <= 10 * 365 * 86400:
        raise credentials.CredentialError("--expires-in must be from 1 to 315360000 seconds.")
    t = now()
    token = new_token()
    expires_at = t + timedelta(seconds=expires_in) if expires_in else None
    row = RegistrationToken(token_hash=digest(token), uses_left=uses, expires_at=expires_at, created_at=t)
    s.add(row)
    s.flush()
    audit.entry(s, actor, "registration_token.created", f"registration_token:{row.id}", uses=uses,
                expires_at=expires_at.isoformat() if expires_at else None)
    return InitialToken(row.id, token, uses, expires_at)
