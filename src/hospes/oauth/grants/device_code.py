"""grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4-3.5): the device polls until the
person has answered on the ``{issuer}/device`` page (oauth/device.py).

Answers, in RFC 8628 §3.5's terms: authorization_pending while the person has not answered, slow_down when the
device polls before its interval is over (the interval then grows by 5 seconds for good), access_denied once the
person said no, expired_token once the request's time is up; and once approved, the tokens, issued by the same
code as the authorization code grant's (oauth/issuance.py). Handing them over uses the request up atomically
(store/device_codes.py ``redeem``): of two polls at once, one gets the tokens and the other invalid_grant.
"""

from __future__ import annotations

from hospes.clock import now
from hospes.oauth import audience, device, errors
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.grants.base import TokenRequest, UnitGrant
from hospes.oauth.issuance import Authentication, Issued, Refused, issue_tokens, wants_refresh
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import device_codes as store
from hospes.store.sql import Tx


class DeviceCodeGrant(UnitGrant):
    grant_type = device.GRANT_TYPE
    parameters = frozenset({"device_code", "resource"})

    async def exchange(self, provider: Provider, tx: Tx, client: AuthenticatedClient,
                       request: TokenRequest) -> Issued | Refused:
        if not device.may_use(client):
            raise errors.UnauthorizedClient("This client may not use the device authorization grant.")
        code = request.one("device_code")
        if not code:
            raise errors.InvalidRequest("The device_code parameter is required.")
        row = await store.by_device_code(tx, digest(code))
        if row is None or row.credential_id != client.id:
            raise errors.InvalidGrant("The device code is invalid.")
        if row.status == store.USED:
            raise errors.InvalidGrant("The device code has already been used.")
        if row.expires_at <= now():
            raise errors.ExpiredToken("The device code has expired; start again.")
        if row.status == store.DENIED:
            raise errors.AccessDenied("The user denied the request.")
        if row.status == store.PENDING:
            # Its poll time is committed with the refusal: the next poll's slow_down counts from it.
            return Refused(await device.still_pending(tx, row))
        # RFC 8707 §2.2: the resource the request was for, or none (the same).
        audience.at_token_endpoint(request.every("resource"), provider.issuer, row.resource)
        grant = row.grant
        if grant is None or not grant.active or row.auth_time is None:  # revoked, or the person disabled, since
            raise errors.InvalidGrant("The authorization has been revoked.")
        # Single use, atomically: of two concurrent polls only one gets tokens.
        if not await store.redeem(tx, row.id):
            raise errors.InvalidGrant("The device code has already been used.")
        scopes = row.scope.split()
        auth = Authentication(auth_time=row.auth_time, acr=row.acr, amr=row.amr)
        return await issue_tokens(provider, tx, client=client, grant=grant, scope=scopes, auth=auth,
                                  refresh=wants_refresh(client, scopes), jkt=request.jkt, event="token.granted",
                                  ip=request.ip, request_id=request.request_id)
