"""The token endpoint (RFC 6749 §3.2): authenticate the client, then the grant handler for grant_type."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hospes.oauth import client_auth, errors
from hospes.oauth.grants import authorization_code, refresh_token
from hospes.oauth.provider import Provider

Handler = Callable[..., dict[str, Any]]
HANDLERS: dict[str, Handler] = {
    authorization_code.GRANT_TYPE: authorization_code.handle,
    refresh_token.GRANT_TYPE: refresh_token.handle,
}
MAX_PARAM = 4096


def register(grant_type: str, handler: Handler) -> None:
    """Other grants plug in here (the single_sign_on grant does, from hospes.sso.grant)."""
    HANDLERS[grant_type] = handler


def one_getter(form: Mapping[str, Sequence[str]]) -> Callable[[str], str | None]:
    def one(name: str) -> str | None:
        values = form.get(name) or []
        if len(values) > 1:
            # RFC 6749 §3.2: parameters MUST NOT be included more than once.
            raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
        if values and len(values[0]) > MAX_PARAM:
            raise errors.InvalidRequest(f"The {name} parameter is too long.")
        return values[0] if values else None
    return one




def token_request(provider: Provider, authorization: str | None,
                  form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    one = one_getter(form)
    grant_type = one("grant_type")
    if not grant_type:
        raise errors.InvalidRequest("The grant type was not specified in the request")
    handler = HANDLERS.get(grant_type)
    if handler is None:
        raise errors.UnsupportedGrantType(f'Grant type "{grant_type}" not supported')
    failure: errors.OAuthError | None = None
    with provider.db.transaction() as s:
        client = client_auth.authenticate(s, authorization, form)
        try:
            return handler(provider, s, client, form, one)
        except (authorization_code.CodeReplayed, refresh_token.RefreshReused):
            # Commit the revocation, then fail.
            failure = errors.InvalidGrant("The grant has been revoked: a code or refresh token was reused.")
    raise failure


