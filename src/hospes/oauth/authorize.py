"""The authorization endpoint (RFC 6749 §4.1.1–4.1.2; OpenID Connect Core §3.1.2).

``parse_request`` turns raw parameters into a validated ``AuthorizationRequest`` or raises:
``InvalidRedirect`` (no trustworthy redirect URI: show a page) or an ``OAuthError`` carrying
the request, to be sent back to the client's registered redirect URI. ``decide`` says what the
person must do next (log in, consent) or issues the code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import epoch, now
from hospes.i18n import N_
from hospes.oauth import audience, dpop, errors, id_token, pkce, redirects, registration
from hospes.oauth import claims as standard
from hospes.oauth import scopes as scope_table
from hospes.oauth.provider import Provider
from hospes.secrets import digest, new_token
from hospes.store import clients, consents
from hospes.store.accounts import ReachedAccount, choosable_accounts
from hospes.store.models import AuthorizationCode, ClientAccount, Grant, OAuthCredential, User, UserClient
from hospes.store.resources import ResourceRow
from hospes.store.sql import Tx, drive, session_tx


class CurrentSession(Protocol):
    """The person's login session as the authorization endpoint needs it (accounts.sessions.CurrentSession
    is one): who, when and how they authenticated (OpenID Connect Core §2: auth_time, acr, amr)."""

    @property
    def sid(self) -> str: ...
    @property
    def user_id(self) -> int: ...
    @property
    def auth_time(self) -> int: ...
    @property
    def acr(self) -> str | None: ...
    @property
    def amr(self) -> tuple[str, ...]: ...
    def strongest_acr(self, s: Session) -> str:
        """The strongest acr a login of this person can reach now (a second factor: "2")."""


MAX_PARAM = 2048
# An ID token passed back as id_token_hint is longer than other parameters (id_token.decode_hint's bound).
MAX_ID_TOKEN_HINT = 8192
# A claims parameter (OIDC Core §5.5) names a few claims; this is room for all of them, twice over.
MAX_CLAIMS = 4096
RESPONSE_MODES = ("query", "form_post")
PROMPTS = ("none", "login", "consent", "select_account")


ACR_VALUES = ("0", "1", "2")


def acr_level(acr: str | None) -> int:
    """A session's acr as a level (accounts/assurance.py: "0" single sign-on, "1" a password, "2" a password
    and a second factor); anything else counts as 0."""
    return int(acr) if acr in ACR_VALUES else 0


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    credential_id: int
    client_name: str
    logo_uri: str
    redirect_uri: str
    # RFC 6749 §4.1.3: the token request must repeat redirect_uri only if it was sent here.
    redirect_uri_sent: bool
    response_mode: str
    scope: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    # The `sub` of a valid id_token_hint (OIDC Core §3.1.2.1): the person the client means.
    hint_sub: str | None = None
    # OIDC Core §3.1.2.1 acr_values, in order of preference: the ones Hospes knows.
    acr_values: tuple[str, ...] = ()
    # OIDC Core §5.5: claims asked for one by one (those the client may have), and §5.5.1.1 the acr values
    # asked for as an Essential Claim of the ID token.
    userinfo_claims: tuple[str, ...] = ()
    id_token_claims: tuple[str, ...] = ()
    essential_acr: tuple[str, ...] = ()
    # Set once the person has logged in during this very request (satisfies prompt=login and
    # max_age), and bound to the session that login created.
    fresh_login: bool = False
    consent_given: bool = False
    bound_sid: str | None = None
    # The client accounts the person chose on the consent page for the customer API's scopes (ids).
    accounts: tuple[int, ...] = ()
    # How the client came to be (oauth/credentials.py KINDS): anything but "admin" introduced itself and
    # was not vetted by the operator, which the consent page says.
    client_kind: str = "admin"
    # RFC 8707: the operator's resource server the token is for (its identifier); None: the customer API.
    resource: str | None = None
    # OIDC Core §3.1.2.1 ui_locales as sent (space-separated tags, most preferred first): the language of the
    # login, second-factor and consent pages (web/locale.py).
    ui_locales: str | None = None
    # RFC 9449 §10: the DPoP key (RFC 7638 thumbprint) the code is bound to; the token request must prove it.
    dpop_jkt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizationRequest:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fields)

    @property
    def consent_scope(self) -> tuple[str, ...]:
        """What the consent page asks for: the scopes, and those covering the claims asked for one by one."""
        covering = standard.consent_scopes(self.userinfo_claims + self.id_token_claims)
        return self.scope + tuple(s for s in covering if s not in self.scope)

    def with_login(self, sid: str) -> AuthorizationRequest:
        return replace(self, fresh_login=True, bound_sid=sid)

    def bound_to(self, sid: str) -> AuthorizationRequest:
        return replace(self, bound_sid=sid)


class AuthorizationError(Exception):
    """An OAuth error to deliver to the client's (validated) redirect URI."""

    def __init__(self, error: errors.OAuthError, redirect_uri: str, response_mode: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error = error
        self.redirect_uri = redirect_uri
        self.response_mode = response_mode
        self.state = state


def _single(params: Mapping[str, Sequence[str]], name: str, limit: int = MAX_PARAM) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        # RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
        raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
    if not values:
        return None
    value = values[0]
    if len(value) > limit:
        raise errors.InvalidRequest(f"The {name} parameter is too long.")
    return value


def resolve_client(s: Session, params: Mapping[str, Sequence[str]]) -> tuple[OAuthCredential, str, bool]:
    """The credential and its redirect URI, or ``InvalidRedirect`` (never a redirect)."""
    try:
        client_id = _single(params, "client_id")
        presented = _single(params, "redirect_uri")
    except errors.OAuthError as exc:
        raise errors.InvalidRedirect("invalid_request", exc.description) from None
    if not client_id:
        raise errors.InvalidRedirect("invalid_client", N_("No client id supplied"))
    cred = clients.credential(s, client_id)
    if cred is None:
        raise errors.InvalidRedirect("invalid_client", N_("The client id supplied is invalid"))
    registered = list(cred.redirect_uris or [])
    if presented is None or presented == "":
        # RFC 6749 §3.1.2.3: without redirect_uri the only registered one is used, with the messages of
        # https://github.com/bshaffer/oauth2-server-php (src/OAuth2/Controller/AuthorizeController.php),
        # which WHMCS's endpoints answer with. OpenID Connect RPs always send it (OIDC Core §3.1.2.1).
        if not registered:
            raise errors.InvalidRedirect("invalid_uri", N_("No redirect URI was supplied or stored"))
        if len(registered) > 1:
            raise errors.InvalidRedirect(
                "invalid_uri", N_("A redirect URI must be supplied when multiple redirect URIs are registered"))
        return cred, registered[0], False
    if "#" in presented:
        raise errors.InvalidRedirect("invalid_uri", N_("The redirect URI must not contain a fragment"))
    if not redirects.matches(registered, presented):
        raise errors.InvalidRedirect("redirect_uri_mismatch",
                                     N_("The redirect URI provided is missing or does not match"))
    return cred, presented, True


def parse_request(provider: Provider, s: Session, params: Mapping[str, Sequence[str]], *,
                  pushed: bool = False) -> AuthorizationRequest:
    """``pushed``: the parameters are those of a pushed authorization request (oauth/par.py), at the PAR
    endpoint or taken at the authorization endpoint."""
    cred, redirect_uri, sent = resolve_client(s, params)
    # From here on errors go back to the client. Work out how first (response_mode, state).
    state: str | None = None
    response_mode = "query"
    try:
        state = _single(params, "state")
    except errors.OAuthError:
        state = None
    try:
        rm = _single(params, "response_mode")
        if rm is not None:
            if rm not in RESPONSE_MODES:
                raise errors.InvalidRequest(f"The response_mode {rm!r} is not supported.")
            response_mode = rm
        if not pushed and (provider.settings.require_par or cred.require_par):
            # RFC 9126 §5: this server (or this client) accepts only pushed authorization requests.
            raise errors.InvalidRequest("This client must push its authorization request (RFC 9126).")
        return _validate(provider, s, cred, redirect_uri, sent, response_mode, state, params)
    except errors.OAuthError as exc:
        raise AuthorizationError(exc, redirect_uri, response_mode, state) from None


def _validate(provider: Provider, s: Session, cred: OAuthCredential, redirect_uri: str, sent: bool,
              response_mode: str, state: str | None, params: Mapping[str, Sequence[str]]) -> AuthorizationRequest:
    _single(params, "state")  # re-raise if repeated
    if _single(params, "request") is not None:
        # A request object is unpacked before (oauth/request_object.py); its claims cannot carry another.
        raise errors.InvalidRequestObject("A request object must not carry a request parameter.")
    if _single(params, "request_uri") is not None:
        # RFC 9101 §5.2: only PAR's request_uri (oauth/par.py, taken before) is known; none is fetched.
        raise errors.RequestUriNotSupported("The request_uri parameter is not supported but from PAR.")
    if _single(params, "registration") is not None:
        raise errors.RegistrationNotSupported("The registration parameter is not supported.")
    response_type = _single(params, "response_type")
    if not response_type:
        raise errors.InvalidRequest("The response_type parameter is required.")
    if response_type != "code":
        raise errors.UnsupportedResponseType(f"The response_type {response_type!r} is not supported; use code.")
    if "authorization_code" not in clients.grant_types_of(cred.grant_type):
        raise errors.UnauthorizedClient("This client may not use the authorization code grant.")

    # RFC 8707 §2: the resource the token is for (one; invalid_target, sent back to the client, otherwise).
    resource_values = params.get("resource") or []
    if any(len(value) > MAX_PARAM for value in resource_values):
        raise errors.InvalidTarget("The resource parameter is too long.")
    tx = session_tx(s)
    resource = drive(audience.resolve(tx, audience.named(resource_values, provider.issuer), provider.issuer))
    allowed = client_scopes(cred.scope, cred.refresh_token_policy)
    requested = drive(requested_scopes(tx, _single(params, "scope"), resource, allowed))

    challenge = _single(params, "code_challenge")
    method = _single(params, "code_challenge_method")
    if challenge is None and method is not None:
        raise errors.InvalidRequest("code_challenge_method was sent without code_challenge.")
    if challenge is not None:
        # RFC 9700 §2.1.1: "plain" must not be used; only S256.
        if (method or "plain") != "S256":
            raise errors.InvalidRequest("Transform algorithm not supported; use code_challenge_method=S256.")
        if not pkce.valid_challenge(challenge):
            raise errors.InvalidRequest("The code_challenge is malformed.")
    elif cred.secret_hash is None:
        # RFC 9700 §2.1.1: public clients MUST use PKCE.
        raise errors.InvalidRequest("PKCE (code_challenge with S256) is required for this client.")

    dpop_jkt = _single(params, "dpop_jkt")
    if dpop_jkt is not None and not dpop.valid_jkt(dpop_jkt):
        # RFC 9449 §10: the base64url SHA-256 JWK thumbprint (RFC 7638) of the key the client will prove.
        raise errors.InvalidRequest("The dpop_jkt is not a JWK SHA-256 thumbprint.")

    prompt = tuple(scope_table.parse(_single(params, "prompt")))
    for p in prompt:
        if p not in PROMPTS:
            raise errors.InvalidRequest(f"The prompt value {p!r} is not supported.")
    if "none" in prompt and len(prompt) > 1:
        # OpenID Connect Core §3.1.2.1
        raise errors.InvalidRequest("prompt=none must not be combined with other values.")

    max_age_raw = _single(params, "max_age")
    max_age = None
    if max_age_raw is not None:
        # isascii(): str.isdigit() also accepts "²" and other digits int() refuses.
        if not (max_age_raw.isascii() and max_age_raw.isdigit()) or len(max_age_raw) > 10:
            raise errors.InvalidRequest("max_age must be a non-negative whole number of seconds.")
        max_age = int(max_age_raw)

    nonce = _single(params, "nonce")
    if nonce is not None and len(nonce) > 512:
        raise errors.InvalidRequest("The nonce is too long.")
    login_hint = _single(params, "login_hint")
    hint = _single(params, "id_token_hint", MAX_ID_TOKEN_HINT)
    hint_sub = None
    if hint is not None:
        # OIDC Core §3.1.2.1: an ID token this provider issued (it may have expired), naming the person.
        hinted = id_token.decode_hint(provider, hint)
        if hinted is None:
            raise errors.InvalidRequest("The id_token_hint is not a valid ID token from this provider.")
        hint_sub = hinted["sub"]
    # OIDC Core §3.1.2.1: acr_values are voluntary; values Hospes does not define are ignored.
    acr_values = tuple(v for v in scope_table.parse(_single(params, "acr_values")) if v in ACR_VALUES)
    if resource is not None and resource.require_acr is not None:
        acr_values = _at_least(acr_values, resource.require_acr)
    asked_claims = standard.parse_request(_single(params, "claims", MAX_CLAIMS))
    if "openid" not in requested:
        asked_claims = standard.ClaimsRequest()  # OIDC Core §5.5: an OpenID Connect request's parameter

    def may_have(names: tuple[str, ...]) -> tuple[str, ...]:
        # A claim is released on the consent to its scope, which the client must be allowed to ask for.
        return tuple(c for c in names if standard.CONSENT_SCOPE[c] in allowed)

    ui_locales = _single(params, "ui_locales")
    _single(params, "display")

    return AuthorizationRequest(
        client_id=cred.identifier, credential_id=cred.id, client_name=cred.name or cred.identifier,
        client_kind=cred.kind or "admin",
        logo_uri=cred.logo_uri or "", redirect_uri=redirect_uri, redirect_uri_sent=sent,
        response_mode=response_mode, scope=tuple(requested), state=state, nonce=nonce,
        code_challenge=challenge, prompt=prompt, max_age=max_age,
        login_hint=login_hint[:255] if login_hint else None, hint_sub=hint_sub,
        acr_values=acr_values, userinfo_claims=may_have(asked_claims.userinfo),
        id_token_claims=may_have(asked_claims.id_token),
        essential_acr=tuple(v[:64] for v in asked_claims.essential_acr[:8]),
        resource=resource.identifier if resource is not None else None, dpop_jkt=dpop_jkt,
        ui_locales=ui_locales[:255] if ui_locales else None,
    )


def client_scopes(scope: str, refresh_token_policy: str) -> set[str]:
    """The scopes a client may ask for: its credential's (none listed: OpenID Connect's), and offline_access
    unless it never gets refresh tokens."""
    allowed = set(scope_table.parse(scope)) or set(scope_table.OIDC_SCOPES)
    if refresh_token_policy != "never":
        allowed.add("offline_access")
    return allowed


async def requested_scopes(tx: Tx, scope: str | None, resource: ResourceRow | None, allowed: set[str]) -> list[str]:
    """The scopes a request (the authorization endpoint's, the device authorization endpoint's) is for: those of
    the ``scope`` parameter that are known, each one the client may ask for; or invalid_scope."""
    asked = scope_table.parse(scope)
    if not asked:
        raise errors.InvalidScope("A scope is required.")
    # OIDC Core §3.1.2.1: "Scope values used that are not understood by an implementation SHOULD be
    # ignored" (RFC 6749 §3.3 lets the server grant less than asked; the token response says what). Scopes of
    # another audience than the resource's are refused (oauth/audience.py).
    requested = await audience.scopes_for(tx, asked, resource)
    if not requested:
        raise errors.InvalidScope("None of the requested scopes is known here.")
    for name in requested:
        if name not in allowed:
            raise errors.InvalidScope(f"The scope '{name}' is not allowed for this client.")
    return requested


def _at_least(acr_values: tuple[str, ...], required: str) -> tuple[str, ...]:
    """A resource that requires an acr (RFC 9470; oauth/resources.py ``require_acr``) makes its request ask for
    it as ``acr_values`` would (the preferred level first), unless the request prefers a stronger one already."""
    if acr_values and acr_level(acr_values[0]) >= acr_level(required):
        return acr_values
    return (required, *(v for v in acr_values if v != required))


# -- what happens next -------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedLogin:
    request: AuthorizationRequest


@dataclass(frozen=True)
class NeedConsent:
    request: AuthorizationRequest
    scopes: tuple[str, ...]
    # For a customer-API scope: the client accounts the person may choose from (none checked in advance).
    accounts: tuple[ReachedAccount, ...] = ()
    # Why the page is shown again (the person chose no account).
    problem: str | None = None
    # The operator's resource server the token is for (RFC 8707): its name and its scopes' consent texts.
    resource: ResourceRow | None = None

    @property
    def permissions(self) -> list[str]:
        """What the consent page says each scope allows: Hospes's texts, and the resource's own."""
        own = {scope.name: scope.description for scope in self.resource.scopes} if self.resource else {}
        return [scope_table.SCOPES[name].consent_text if name in scope_table.SCOPES else own[name]
                for name in self.scopes if name in scope_table.SCOPES or name in own]


CHOOSE_AN_ACCOUNT = N_("Choose at least one account the application may use, or cancel.")


@dataclass(frozen=True)
class CodeIssued:
    redirect_uri: str
    response_mode: str
    params: dict[str, str] = field(default_factory=dict)


Outcome = NeedLogin | NeedConsent | CodeIssued


def login_due(s: Session, req: AuthorizationRequest, session: CurrentSession | None) -> str | None:
    """Why the person must log in (again) before this request is answered (the login_required description
    for prompt=none), or None. A login made in this very flow answers it."""
    if session is None:
        return "The user is not logged in."
    if req.fresh_login and req.bound_sid == session.sid:
        return None
    if acr_level(session.acr) == 0:
        # A single sign-on session (acr "0") began with a one-time link the operator or a service's module
        # minted, with no credential of the person's own: it serves the client area, never a relying party.
        # OIDC Core §2: level 0 "SHOULD NOT be used to authorize access to any resource of any monetary value".
        return "The session was not started with the user's own credentials."
    if "login" in req.prompt or "select_account" in req.prompt:
        return "The client asked for a new login."
    # OpenID Connect Core §3.1.2.1: re-authenticate when auth_time is older than max_age.
    # "max_age=0 is equivalent to prompt=login" (errata set 2), even within the second of the login.
    if req.max_age is not None and (req.max_age == 0 or epoch() - session.auth_time > req.max_age):
        return "The login is older than max_age."
    # OIDC Core §3.1.2.1 (id_token_hint): the session is someone else's than the person the client means.
    if req.hint_sub is not None and s.scalar(select(User.uuid).where(User.id == session.user_id)) != req.hint_sub:
        return "The user logged in is not the one the id_token_hint names."
    # OIDC Core §3.1.2.1 acr_values (voluntary): the preferred level; §5.5.1.1 an essential acr: the lowest
    # level that would do. Step up to it when a login of this person can reach more than the session has;
    # when it cannot, what was achieved is issued (or, essential, refused in ``decide``).
    wanted = [acr_level(req.acr_values[0])] if req.acr_values else []
    wanted += [min(acr_level(v) for v in known)] if (known := _known(req.essential_acr)) else []
    if wanted:
        reachable = min(max(wanted), acr_level(session.strongest_acr(s)))
        if reachable > acr_level(session.acr):
            return "The client asked for a stronger login than this session's."
    return None


def _known(values: tuple[str, ...]) -> list[str]:
    return [v for v in values if v in ACR_VALUES]


def acr_for(req: AuthorizationRequest, session: CurrentSession) -> str | None:
    """The acr the ID token states: the session's; with an essential acr (OIDC Core §5.5.1.1, "MUST return
    an acr Claim Value that matches one of the requested values"), the strongest requested value the
    session meets (a second factor meets level 1 too); None when none is met."""
    if not req.essential_acr:
        return session.acr
    met = [v for v in _known(req.essential_acr) if acr_level(v) <= acr_level(session.acr)]
    return max(met, key=acr_level) if met else None


def user_may_log_in(s: Session, user_id: int) -> bool:
    """A user whose every client account is Closed may not use OAuth."""
    statuses = s.scalars(
        select(ClientAccount.status).join(UserClient, UserClient.client_id == ClientAccount.id)
        .where(UserClient.user_id == user_id)
    ).all()
    return not statuses or any(st != "Closed" for st in statuses)


def decide(provider: Provider, s: Session, req: AuthorizationRequest, session: CurrentSession | None) -> Outcome:
    def fail(exc: errors.OAuthError) -> AuthorizationError:
        return AuthorizationError(exc, req.redirect_uri, req.response_mode, req.state)

    due = login_due(s, req, session)
    if due is not None:
        if "none" in req.prompt:
            raise fail(errors.LoginRequired(due))
        return NeedLogin(req)
    assert session is not None
    if not user_may_log_in(s, session.user_id):
        raise fail(errors.AccessDenied("This account is closed."))
    if acr_for(req, session) is None:
        # OIDC Core §5.5.1.1: an essential acr that cannot be met is a failed authentication; the error is
        # OpenID Connect Core Unmet Authentication Requirements 1.0's.
        raise fail(errors.UnmetAuthenticationRequirements("The login cannot reach the acr the client requires."))
    consent = (None if "consent" in req.prompt
               else consents.covering(s, session.user_id, req.credential_id, req.consent_scope))
    given = req.consent_given and req.bound_sid == session.sid
    offered = choosable_accounts(s, session.user_id) if scope_table.asks_for_api(req.scope) else None
    chosen: tuple[int, ...] | None = None
    if offered is not None:
        # The customer API reaches the accounts chosen on the consent page: this one's, or the remembered
        # consent's (those still open and reached); a remembered consent with no choice left asks again.
        chosen = _kept(req.accounts if given else consent.accounts if consent is not None else None, offered)
        if chosen is None and not given:
            consent = None
    if consent is None and not given:
        if "none" in req.prompt:
            raise fail(errors.ConsentRequired("The user has not approved this application."))
        resource = (drive(audience.registered(session_tx(s), req.resource, provider.issuer)) if req.resource
                    else None)
        if req.resource and resource is None:  # removed since the request was made
            raise fail(errors.InvalidTarget("The resource is not one this server issues tokens for."))
        return NeedConsent(req.bound_to(session.sid), req.consent_scope, tuple(offered or ()), resource=resource)
    if consent is not None:
        consents.mark_used(s, consent.id)
    return issue_code(provider, s, req, session, None if offered is None else chosen or ())


def _kept(remembered: tuple[int, ...] | None, offered: list[ReachedAccount]) -> tuple[int, ...] | None:
    """The chosen accounts among those offered now; None when there is a choice to make and none is left."""
    if remembered is None:
        return None
    kept = tuple(a.id for a in offered if a.id in remembered)
    return kept if kept or not offered else None


def choose_accounts(s: Session, user_id: int, req: AuthorizationRequest,
                    posted: Sequence[str]) -> AuthorizationRequest | NeedConsent:
    """The consent page's ``account`` checkboxes applied to the request: the accounts offered that were ticked
    (with one account offered, that one). With several offered and none ticked, the page again, with why."""
    if not scope_table.asks_for_api(req.scope):
        return req
    offered = choosable_accounts(s, user_id)
    ticked = {p for p in posted if p.isascii() and p.isdigit()}
    chosen = tuple(a.id for a in offered if len(offered) == 1 or str(a.id) in ticked)
    if offered and not chosen:
        return NeedConsent(req, req.consent_scope, tuple(offered), problem=CHOOSE_AN_ACCOUNT)
    return replace(req, accounts=chosen)


def record_consent(provider: Provider, s: Session, user_id: int, req: AuthorizationRequest, ip: str = "") -> None:
    """The person's approval of the request's scopes (and accounts chosen) for its client; audited."""
    accounts = req.accounts if scope_table.asks_for_api(req.scope) else None
    consents.record(s, user_id, req.credential_id, req.consent_scope, provider.settings.consent_ttl, accounts)
    audit.record(s, actor=f"user:{user_id}", action="consent.granted", target=f"oauth_credential:{req.credential_id}",
                 ip=ip, details={"scope": " ".join(req.consent_scope),
                                 **({"accounts": list(accounts)} if accounts is not None else {})},
                 client_id=req.client_id)


def new_grant(s: Session, req: AuthorizationRequest, user_id: int, accounts: tuple[int, ...] | None,
              t: datetime) -> Grant:
    """The grant an approved request makes (its id assigned): the scopes, the claims asked for one by one, the
    accounts chosen for the customer API (None: no customer-API scope), the resource."""
    grant = Grant(credential_id=req.credential_id, user_id=user_id, scope=scope_table.join(req.scope),
                  claims=standard.stored(req.userinfo_claims, req.id_token_claims),
                  accounts=" ".join(str(a) for a in accounts) if accounts is not None else None,
                  resource=req.resource, created_at=t)
    s.add(grant)
    s.flush()
    return grant


def issue_code(provider: Provider, s: Session, req: AuthorizationRequest, session: CurrentSession,
               accounts: tuple[int, ...] | None = None) -> CodeIssued:
    t = now()
    grant = new_grant(s, req, session.user_id, accounts, t)
    code = new_token()
    s.add(AuthorizationCode(
        code_hash=digest(code), grant_id=grant.id, credential_id=req.credential_id, user_id=session.user_id,
        redirect_uri=req.redirect_uri if req.redirect_uri_sent else "", scope=grant.scope, nonce=req.nonce,
        code_challenge=req.code_challenge, auth_time=session.auth_time, acr=acr_for(req, session),
        amr=list(session.amr), session_id=session.sid, dpop_jkt=req.dpop_jkt,
        expires_at=t + timedelta(seconds=provider.settings.auth_code_ttl),
    ))
    if req.client_kind != "admin":
        registration.mark_used(s, req.credential_id, t)  # a registration in use does not expire
    params = {"code": code}
    if req.state is not None:
        params["state"] = req.state
    params["iss"] = provider.issuer  # RFC 9207 §2
    return CodeIssued(req.redirect_uri, req.response_mode, params)


def deny(provider: Provider, req: AuthorizationRequest) -> AuthorizationError:
    """The person said no: access_denied to the client (RFC 6749 §4.1.2.1)."""
    return AuthorizationError(errors.AccessDenied("The user denied the request."), req.redirect_uri,
                              req.response_mode, req.state)


def error_params(provider: Provider, exc: AuthorizationError) -> dict[str, str]:
    params = exc.error.as_dict()
    if exc.state is not None:
        params["state"] = exc.state
    params["iss"] = provider.issuer  # RFC 9207 §2: error responses carry iss too.
    return params


def still_registered(s: Session, req: AuthorizationRequest) -> bool:
    """A login or consent page posted back: the credential may have been deleted, or its redirect URIs
    changed, since the page was shown."""
    cred = s.get(OAuthCredential, req.credential_id)
    return (cred is not None and cred.identifier == req.client_id
            and redirects.matches(cred.redirect_uris or [], req.redirect_uri))
