"""The tables. Names follow WHMCS's words where Hospes is compatible with it.

A WHMCS "client" is a customer account (``ClientAccount``); an OAuth client is an
"OAuth credential" (``OAuthCredential``), as WHMCS's own API calls it.
Secrets and tokens are never stored: only their SHA-256 digests.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _uuid() -> str:
    return str(uuid.uuid4())


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# --- accounts -------------------------------------------------------------------------------


class ClientAccount(Timestamps, Base):
    """A hosting company's customer (WHMCS "client")."""

    __tablename__ = "client_accounts"
    # Ids are public (WHMCS API, admin pages): never reuse one (SQLite would, without this).
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="Active")  # Active | Inactive | Closed
    allow_sso: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class User(Timestamps, Base):
    """A person who logs in; may reach several client accounts."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    # OpenID Connect Core §2: `sub` is a stable, never reassigned identifier; opaque here.
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class UserClient(Base):
    """Which client accounts a user may reach, and as what."""

    __tablename__ = "user_clients"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="owner")  # owner | invited
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)


class Service(Timestamps, Base):
    __tablename__ = "services"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True)
    product_name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255), default="")
    username: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="Active")
    server_id: Mapped[int | None] = mapped_column(ForeignKey("servers.id", ondelete="SET NULL"))


class Domain(Timestamps, Base):
    __tablename__ = "domains"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="Active")
    expires_on: Mapped[date | None] = mapped_column(Date)


class Invoice(Timestamps, Base):
    __tablename__ = "invoices"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True)
    total: Mapped[str] = mapped_column(String(32), default="0.00")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    status: Mapped[str] = mapped_column(String(16), default="Unpaid")
    due_on: Mapped[date | None] = mapped_column(Date)


class Ticket(Timestamps, Base):
    __tablename__ = "tickets"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="Open")


class TicketReply(Base):
    """A reply to a support ticket: who wrote it (NULL once that person is deleted) and when."""

    __tablename__ = "ticket_replies"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_replies_ticket_id"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_ticket_replies_user_id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Admin(Timestamps, Base):
    """Staff; separate from customers' users."""

    __tablename__ = "admins"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Empty list: a full administrator.
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


# --- OAuth --------------------------------------------------------------------------------


class OAuthCredential(Timestamps, Base):
    """An OAuth client (WHMCS "OAuth credential")."""

    __tablename__ = "oauth_credentials"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    # PREFIX.<hex> (oauth/credentials.py), or the https URL of a client ID metadata document.
    identifier: Mapped[str] = mapped_column(String(255), unique=True)
    # salt(16) || sha256(salt || secret); empty for public clients.
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(48))
    # The grant types it may use, space separated (store/clients.py ``grant_types_of``; oauth/credentials.py
    # GRANT_TYPES): authorization_code, refresh_token, single_sign_on, client_credentials, the device and
    # token-exchange URNs. A credential of an earlier release holds one name, a list of one.
    grant_type: Mapped[str] = mapped_column(String(512))
    scope: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    logo_uri: Mapped[str] = mapped_column(String(2000), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    # offline_access: refresh tokens only when offline_access is granted; always; never.
    refresh_token_policy: Mapped[str] = mapped_column(String(16), default="offline_access")
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    # Set for the single_sign_on credentials that Application Links manage.
    applink_id: Mapped[int | None] = mapped_column(ForeignKey("app_links.id", ondelete="SET NULL"))
    # How the client came to be: "admin" (the CLI, the admin API or the admin pages), "dynamic" (it registered
    # itself, RFC 7591), "metadata_document" (its identifier is the URL of a client ID metadata document,
    # oauth/metadata_documents.py). Only an "admin" client is one the operator vetted.
    kind: Mapped[str] = mapped_column(String(24), default="admin", server_default="admin")
    # A dynamically registered client: the digest of its registration access token (RFC 7592 §1), the
    # metadata it registered as it was accepted (RFC 7591 §2; echoed by RFC 7592 §3), the address it
    # registered from, and when it was last sent through an authorization (its registration expires unused).
    registration_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    registration_metadata: Mapped[dict[str, object] | None] = mapped_column(JSON)
    registered_from: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A metadata document's client: until when the copy fetched is fresh (its Cache-Control max-age, bounded).
    metadata_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed (NULL: none), and whether
    # the client needs ``sid`` in every one (oauth/backchannel.py).
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How it authenticates at the token, introspection, revocation and PAR endpoints (RFC 7591 §2
    # token_endpoint_auth_method): NULL as before (a secret: client_secret_basic or _post; none: public).
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(32))
    # Its public keys (RFC 7591 §2 jwks / jwks_uri, one or neither): private_key_jwt, request objects.
    jwks: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))  # None: SQL NULL, not 'null'
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    # RFC 9449 §5.2 dpop_bound_access_tokens; RFC 9126 §6 require_pushed_authorization_requests.
    dpop_bound: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    require_par: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # client_secret_jwt (RFC 7523 §2.2, OIDC Core §9) needs the secret itself as the HMAC key: kept sealed
    # (sealing.py, bound to the identifier) for a credential of that method only; every other keeps the hash.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128))


class SigningKey(Base):
    """A JWS signing key: published from created_at, signs from activates_at until retired_at, published
    until unpublish_at (after every token it signed has expired). oauth/keys.py has the rules."""

    __tablename__ = "signing_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activates_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unpublish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """One authorization: a code and every token issued from it share a grant, revoked as one."""

    __tablename__ = "grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    # NULL: a client_credentials grant, for no person (RFC 6749 §4.4).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    # Claims asked for one by one with the claims request parameter (OIDC Core §5.5), as oauth/claims.py
    # stores them ("userinfo:name id_token:email"); NULL when none were.
    claims: Mapped[str | None] = mapped_column(Text)
    # The client accounts the person chose for the customer API ("3 7", ids; "" none), or NULL when the
    # authorization asked for no customer-API scope (oauth/scopes.py API_SCOPES).
    accounts: Mapped[str | None] = mapped_column(Text)
    # The operator's resource server the authorization was for (RFC 8707 ``resource``, its identifier);
    # NULL for the customer API ({issuer}/api/v1).
    resource: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_grants_user_credential", "user_id", "credential_id"),)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    session_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # RFC 9449 §10: the DPoP key (its RFC 7638 thumbprint) the authorization request named; the token request
    # must prove possession of it.
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))


class AccessToken(Base):
    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    # NULL: a client_credentials token, for no person (its grant's too).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    # The token's audience when it is an operator's resource server (RFC 8707, RFC 9068 ``aud``); NULL: the
    # customer API ({issuer}/api/v1).
    audience: Mapped[str | None] = mapped_column(String(2000))
    # How the person logged in for the grant (OIDC Core §2 ``acr``), for step-up (RFC 9470).
    acr: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A token obtained by token exchange (RFC 8693 §4.1): the acting party, {"sub": client_id[, "act": {...}]},
    # the exchanged-from token's own act nested inside. NULL: a token the subject's client obtained itself.
    act: Mapped[dict[str, object] | None] = mapped_column(JSON)
    # RFC 9449 §6: the DPoP key the token is bound to (cnf.jkt, an RFC 7638 thumbprint); NULL: a bearer token.
    jkt: Mapped[str | None] = mapped_column(String(43))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when rotated (RFC 9700 §4.14.2): presenting it again revokes the grant.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # RFC 9449 §5: a public client's refresh token is bound to the DPoP key it was obtained with.
    jkt: Mapped[str | None] = mapped_column(String(43))


class Consent(Base):
    """Remembered approval of a set of scopes for one user and one credential."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The client accounts chosen for the customer API's scopes (ids), NULL when none was asked for yet.
    accounts: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("user_id", "credential_id"),)


class SessionColumns:
    """What a customer's and a staff member's session both hold: the cookie's digest (never the cookie),
    the browser and address it started from, and its times."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginSession(SessionColumns, Base):
    """A browser session at Hospes. The cookie holds a random token; only its digest is stored."""

    __tablename__ = "login_sessions"
    # Public, opaque handle (OpenID Connect Session `sid`).
    sid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)


class BackchannelLogout(Base):
    """A logout token to deliver (OpenID Connect Back-Channel Logout 1.0): written in the transaction that
    ends the session, POSTed by the server's background task (oauth/backchannel.py), retried with backoff.
    ``status``: pending, delivered or failed; ``next_attempt_at``: when a pending one is due (a claimed one is
    leased until then, so two workers never deliver it at once)."""

    __tablename__ = "backchannel_logouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"), index=True)
    sub: Mapped[str] = mapped_column(String(36))
    sid: Mapped[str | None] = mapped_column(String(36))
    jti: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_backchannel_logouts_due", "status", "next_attempt_at"),)


class SeenJti(Base):
    """A JWT id already used, until the JWT it came in expires (store/replay.py): client assertions (RFC 7523
    §3), DPoP proofs (RFC 9449 §11.1), request objects. ``digest``: SHA-256 of the jti with what it belongs to
    (the client, or the key), so two clients' ids never collide; the primary key makes the first use win on
    every node."""

    __tablename__ = "seen_jtis"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RegistrationToken(Base):
    """An initial access token for dynamic client registration (RFC 7591 §3), only its digest kept;
    ``uses_left`` NULL: unlimited until it expires (``expires_at`` NULL: never)."""

    __tablename__ = "registration_tokens"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    uses_left: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PushedAuthorizationRequest(Base):
    """An authorization request a client pushed (RFC 9126 §2): its parameters (from a request object, once
    verified), under the digest of the request_uri it was given, until used once or expired (oauth/par.py)."""

    __tablename__ = "pushed_authorization_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """One failed login, kept for throttling (per account and per address)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEvent(Base):
    """Who did what, when, from where. Never a secret."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(255))  # "admin:alice", "cli", "user:3", "api:IDENT"
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # The id of the request that made the entry (its X-Request-ID, hospes/logs.py); None from the CLI.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The OAuth client (its identifier) a customer event concerns: token grants, consents, revocations.
    client_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)





# --- admin API (WHMCS /includes/api.php) ------------------------------------------------------


class ApiRole(Base):
    """A set of permitted API actions (WHMCS "API role")."""

    __tablename__ = "api_roles"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    all_actions: Mapped[bool] = mapped_column(Boolean, default=False)
    # Action names in lower case, as WHMCS compares them.
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiCredential(Base):
    """An admin's API credential: identifier + secret (stored as a salted SHA-256), with roles."""

    __tablename__ = "api_credentials"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(48))
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiCredentialRole(Base):
    __tablename__ = "api_credential_roles"
    credential_id: Mapped[int] = mapped_column(ForeignKey("api_credentials.id", ondelete="CASCADE"),
                                               primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("api_roles.id", ondelete="CASCADE"), primary_key=True)


class AdminSession(SessionColumns, Base):
    """A staff member's session in the admin area; the cookie holds a random token, only its digest is here."""

    __tablename__ = "admin_sessions"
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)


# --- single sign-on into the client area ------------------------------------------------------


class SsoToken(Base):
    """A one-time token that logs a person into the client area (CreateSsoToken, single_sign_on grant)."""

    __tablename__ = "sso_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(80), default="")
    service_id: Mapped[int | None] = mapped_column(Integer)
    domain_id: Mapped[int | None] = mapped_column(Integer)
    redirect_path: Mapped[str] = mapped_column(String(1000), default="")
    # "api:<identifier>" or "oauth_credential:<id>"
    issued_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailMessage(Base):
    """A mail sent to a client account (the client area's email history)."""

    __tablename__ = "email_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True)
    to_address: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Server(Base):
    """A server that provisioning modules manage (the remote end of application links)."""

    __tablename__ = "servers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    module: Mapped[str] = mapped_column(String(64), index=True)
    # Module settings, e.g. the webhook module's URL and signing secret.
    config: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AppLink(Base):
    """An application (a provisioning module) whose servers get SSO credentials and links."""

    __tablename__ = "app_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    module: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="DISABLED")  # DISABLED | SYNCING | ACTIVE | ERROR


class AppLinkLink(Base):
    """One link an application shows: a destination scope, a label, an order, on or off."""

    __tablename__ = "app_link_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    applink_id: Mapped[int] = mapped_column(ForeignKey("app_links.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(80))
    display_label: Mapped[str] = mapped_column(String(255))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    order: Mapped[int] = mapped_column(Integer, default=0)


class AppLinkLog(Base):
    __tablename__ = "app_link_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    applink_id: Mapped[int] = mapped_column(ForeignKey("app_links.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    level: Mapped[str] = mapped_column(String(8), default="info")
    server_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)


# --- account security: two-factor login, password reset ----------------------------------------


class TwoFactor(Base):
    """A user's TOTP (RFC 6238) enrolment. The secret is encrypted at rest (accounts/twofactor.py);
    ``confirmed_at`` is None while enrolment waits for the first code, and the login asks for a code only
    once it is set. ``last_step`` is the last time step accepted: a code is good once (RFC 6238 §5.2)."""

    __tablename__ = "two_factor"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE", name="fk_two_factor_user_id"),
                                         primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int | None] = mapped_column(Integer)


class BackupCode(Base):
    """A single-use backup code for two-factor login; only a keyed hash (HMAC-SHA256) is stored."""

    __tablename__ = "two_factor_backup_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_two_factor_backup_codes_user_id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordReset(Base):
    """A password-reset link sent by mail: single use, short-lived; only the token's digest is stored."""

    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_password_resets_user_id"), index=True)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailVerification(Base):
    """An email-verification link sent by mail: single use, expiring; only the token's digest is stored.
    ``email`` is the address it was sent to: the link verifies that address only, so it is void once the
    user's address is another."""

    __tablename__ = "email_verifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_email_verifications_user_id"), index=True)
    email: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Resource(Base):
    """A resource server of the operator's own (a control panel's API, a status page): tokens asked for with
    ``resource=<identifier>`` (RFC 8707) are for it alone."""

    __tablename__ = "resources"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # "opaque" (checked by introspection) or "jwt" (RFC 9068, verified offline with the JWKS).
    token_format: Mapped[str] = mapped_column(String(16), default="opaque")
    # The acr its tokens need (RFC 9470); NULL: none.
    require_acr: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResourceScope(Base):
    """A scope a resource server defines, with what the consent page says of it. Names are unique across
    every resource and apart from the built-in scopes, so a scope names its resource."""

    __tablename__ = "resource_scopes"
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(String(500))


class DeviceCode(Base):
    """A device authorization request (RFC 8628 §3.1-3.2): only the digest of its device_code is kept; the
    user_code as the page compares it (normalised: upper case, no dash). ``status``: pending, approved (by
    ``user_id``, under ``grant_id``, with the login's auth_time/acr/amr), denied, or used (its tokens issued).
    ``poll_interval`` and ``last_polled_at`` pace the device's polls (RFC 8628 §3.5 slow_down)."""

    __tablename__ = "device_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("oauth_credentials.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    # RFC 8707: the operator's resource server the token is for; NULL: the customer API.
    resource: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str] | None] = mapped_column(JSON)
    poll_interval: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
