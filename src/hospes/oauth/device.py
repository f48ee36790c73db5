"""The device authorization grant (RFC 8628): the device authorization endpoint, the user code, and what the
``{issuer}/device`` page does (find a pending request by its user code, approve or deny it).

A device with no browser (a command-line tool, a TV dashboard) asks the device authorization endpoint for a
``device_code`` (256 random bits, only its digest kept) and a short ``user_code`` it shows; the person enters
the user code at ``{issuer}/device`` on a phone or computer, logs in and sees the same consent as the
authorization endpoint's (oauth/authorize.py: the scopes, the accounts the application may use); the device
meanwhile polls the token endpoint (oauth/grants/device_code.py) until the request is approved, denied or
expired. The storage is store/device_codes.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hospes.clock import now
from hospes.i18n import N_
from hospes.oauth import audience, client_assertion, client_auth, errors
from hospes.oauth import authorize as core
from hospes.oauth import scopes as scope_table
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.credentials import DEVICE_CODE
from hospes.oauth.params import Params, one
from hospes.secrets import digest, new_token
from hospes.store import device_codes as store
from hospes.store.accounts import choosable_accounts
from hospes.store.clients import grant_types_of
from hospes.store.models import OAuthCredential
from hospes.store.sql import Tx, drive, session_tx

if TYPE_CHECKING:
    from hospes.oauth.provider import Provider

GRANT_TYPE = DEVICE_CODE  # urn:ietf:params:oauth:grant-type:device_code, RFC 8628 §3.4
PAGE_PATH = "/device"  # the verification_uri, {issuer}/device
# The device authorization endpoint (app.py): a client assertion sent there may name its URL as aud.
PATH = "/oauth/device_authorization"
ENDPOINT_PATH = "/oauth/device_authorization"

# RFC 8628 §6.1: twenty consonants, no vowels (no words), none that looks like another (no A E I O U Y, no 0/O,
# 1/I/L confusion as there are no digits); 8 of them hold 34.5 bits, shown as XXXX-XXXX.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
# RFC 8628 §3.2 interval: "If no value is provided, clients MUST use 5 as the default."
INTERVAL = 5
# RFC 8628 §3.5 slow_down: "the interval MUST be increased by 5 seconds for this and all subsequent requests".
SLOW_DOWN_STEP = 5
# A poll that arrives up to this much before its interval is over is not too soon: the device waited its interval,
# and the network's jitter brought two requests closer together.
POLL_TOLERANCE = 1.0

UNKNOWN = N_("That code is not valid. Check the code your device shows and enter it again.")
EXPIRED = N_("That code has expired. Start again on your device to get a new one.")
USED = N_("That code has already been used. Start again on your device if it is still waiting.")


def may_use(client: AuthenticatedClient | OAuthCredential) -> bool:
    """The credential lists the device code grant among its grant types."""
    granted = client.grant_types if isinstance(client, AuthenticatedClient) else grant_types_of(client.grant_type)
    return GRANT_TYPE in granted


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize(entered: str) -> str | None:
    """A user code as typed (RFC 8628 §6.1: case-insensitive, the dash and spaces ignored) as it is stored, or
    None when it cannot be one (the wrong length or a letter outside the alphabet)."""
    code = "".join(entered[:64].split()).replace("-", "").upper()
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return code


def shown(user_code: str) -> str:
    """A user code as the device shows it: XXXX-XXXX."""
    half = USER_CODE_LENGTH // 2
    return f"{user_code[:half]}-{user_code[half:]}"


# -- the device authorization endpoint (RFC 8628 §3.1-3.2) --------------------------------------------


async def device_authorization(provider: Provider, authorization: str | None, form: Params) -> dict[str, Any]:
    """The device authorization response (RFC 8628 §3.2), or raise an ``errors.OAuthError`` (§3.2: the token
    endpoint's errors, RFC 6749 §5.2). The client authenticates as at the token endpoint, or a public client
    names itself (RFC 8628 §3.1)."""
    presented = client_auth.presented(authorization, form)
    scope = one(form, "scope")
    resource_values = list(form.get("resource") or [])
    if any(len(value) > core.MAX_PARAM for value in resource_values):
        raise errors.InvalidTarget("The resource parameter is too long.")
    ttl = provider.settings.device_code_ttl
    device_code = new_token()  # 256 bits (RFC 8628 §5.2: high entropy, a bearer of the approval)

    async def unit(tx: Tx) -> str:
        client = await client_auth.authenticate(tx, presented, verifier=provider.verifier(PATH))
        if not may_use(client):
            raise errors.UnauthorizedClient("This client may not use the device authorization grant.")
        resource = await audience.resolve(tx, audience.named(resource_values, provider.issuer), provider.issuer)
        allowed = core.client_scopes(client.scope, client.refresh_token_policy)
        requested = await core.requested_scopes(tx, scope, resource, allowed)
        t = now()
        for _ in range(5):  # another request holding the same user code is a 1 in 2**34 chance; draw again
            user_code = new_user_code()
            if await store.create(tx, code_hash=digest(device_code), user_code=user_code, credential_id=client.id,
                                  scope=scope_table.join(requested),
                                  resource=resource.identifier if resource is not None else None,
                                  interval=INTERVAL, created_at=t, expires_at=t + timedelta(seconds=ttl)):
                return user_code
        raise errors.ServerError("No free user code was found.")

    # A private_key_jwt client's keys at its jwks_uri are fetched first, outside the unit.
    user_code = await client_assertion.keys_then(provider.client_keys, lambda: provider.db.writer.run(unit))
    page = provider.issuer + PAGE_PATH
    return {
        "device_code": device_code,
        "user_code": shown(user_code),
        "verification_uri": page,
        # RFC 8628 §3.3.1: the code in the URL, for a QR code; the page still asks the person to confirm it.
        "verification_uri_complete": f"{page}?user_code={shown(user_code)}",
        "expires_in": ttl,
        "interval": INTERVAL,
    }


# -- polling (RFC 8628 §3.4-3.5), from oauth/grants/device_code.py --------------------------------------


async def still_pending(tx: Tx, row: store.DeviceCodeRow) -> errors.OAuthError:
    """A poll of a request the person has not answered yet: recorded, and answered authorization_pending, or
    slow_down (the interval raised for good) when it came before the interval was over (RFC 8628 §3.5)."""
    t = now()
    polled = row.last_polled_at
    too_soon = polled is not None and (t - polled).total_seconds() < row.interval - POLL_TOLERANCE
    interval = row.interval + SLOW_DOWN_STEP if too_soon else row.interval
    await store.polled(tx, row.id, t, interval)
    if too_soon:
        return errors.SlowDown(f"Poll at most every {interval} seconds.")
    return errors.AuthorizationPending("The user has not yet approved the request.")


# -- the page ({issuer}/device) ------------------------------------------------------------------------


def _request(cred: OAuthCredential, row: store.DeviceCodeRow) -> core.AuthorizationRequest:
    """The device's request as the consent code (oauth/authorize.py) sees a request to approve: no redirect, the
    person goes back to the device."""
    return core.AuthorizationRequest(
        client_id=cred.identifier, credential_id=cred.id, client_name=cred.name or cred.identifier,
        client_kind=cred.kind or "admin", logo_uri=cred.logo_uri or "", redirect_uri="", redirect_uri_sent=False,
        response_mode="query", scope=tuple(row.scope.split()), resource=row.resource)


def may_approve(s: Session, session: core.CurrentSession) -> bool:
    """A session that may answer a device's request: begun with the person's own credentials (not a single
    sign-on link, OIDC Core §2 acr 0), of a person with an open account (as the authorization endpoint)."""
    return core.acr_level(session.acr) >= 1 and core.user_may_log_in(s, session.user_id)


def _pending(s: Session, row: store.DeviceCodeRow | None) -> tuple[store.DeviceCodeRow, OAuthCredential] | str:
    if row is None:
        return UNKNOWN
    cred = s.get(OAuthCredential, row.credential_id)
    if cred is None or not may_use(cred):
        return UNKNOWN
    if row.status != store.PENDING:
        return USED
    if row.expires_at <= now():
        return EXPIRED
    return row, cred


def consent(provider: Provider, s: Session, user_code: str,
            session: core.CurrentSession) -> tuple[int, core.NeedConsent] | str:
    """The consent the person is asked for the pending request with this (normalised) user code, with the
    request's id; or why there is none (UNKNOWN, EXPIRED, USED). The consent is asked every time, remembered or
    not: RFC 8628 §5.4, the person confirms it is their device they are authorising."""
    found = _pending(s, drive(store.by_user_code(session_tx(s), user_code)))
    if isinstance(found, str):
        return found
    row, cred = found
    req = _request(cred, row).bound_to(session.sid)
    offered = choosable_accounts(s, session.user_id) if scope_table.asks_for_api(req.scope) else []
    resource = drive(audience.registered(session_tx(s), row.resource, provider.issuer)) if row.resource else None
    if row.resource and resource is None:  # removed since the device asked
        return UNKNOWN
    return row.id, core.NeedConsent(req, req.consent_scope, tuple(offered), resource=resource)


def approve(provider: Provider, s: Session, device_code_id: int, session: core.CurrentSession,
            posted: Sequence[str]) -> core.NeedConsent | str | None:
    """The person approved the request (the consent page's ``account`` ticks ``posted``): its grant made, the
    consent recorded, the request approved for the device's next poll (None). Or the page again (no account
    chosen), or why the request can no longer be approved."""
    found = _pending(s, drive(store.by_id(session_tx(s), device_code_id)))
    if isinstance(found, str):
        return found
    row, cred = found
    chosen = core.choose_accounts(s, session.user_id, _request(cred, row).bound_to(session.sid), posted)
    if isinstance(chosen, core.NeedConsent):
        return chosen
    core.record_consent(provider, s, session.user_id, chosen)
    t = now()
    accounts = chosen.accounts if scope_table.asks_for_api(chosen.scope) else None
    grant = core.new_grant(s, chosen, session.user_id, accounts, t)
    # Conditional: a request that another tab answered, or that expired, since it was read stays as it is.
    if not drive(store.approve(session_tx(s), row.id, user_id=session.user_id, grant_id=grant.id,
                               auth_time=session.auth_time, acr=session.acr, amr=list(session.amr), at=t)):
        raise Unanswerable(USED)
    return None


def deny(s: Session, device_code_id: int) -> str | None:
    """The person said no: the device's next poll gets access_denied (None); or why it cannot be answered."""
    found = _pending(s, drive(store.by_id(session_tx(s), device_code_id)))
    if isinstance(found, str):
        return found
    if not drive(store.deny(session_tx(s), device_code_id, now())):
        return USED
    return None


class Unanswerable(Exception):
    """Raised to roll back an approval whose request was answered or expired meanwhile (its message says which)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
