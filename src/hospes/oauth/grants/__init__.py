"""One module per grant type, each behind the interface of base.py (fosite's handler pattern)."""

from __future__ import annotations

from hospes.oauth.grants.authorization_code import AuthorizationCodeGrant
from hospes.oauth.grants.base import Grant
from hospes.oauth.grants.client_credentials import ClientCredentialsGrant
from hospes.oauth.grants.device_code import DeviceCodeGrant
from hospes.oauth.grants.refresh_token import RefreshTokenGrant
from hospes.oauth.grants.token_exchange import TokenExchangeGrant


def built_in() -> list[Grant]:
    """The grants of OAuth 2 itself that Hospes offers (RFC 6749 §4.1, §4.4, §6; RFC 8628 §3.4; RFC 8693)."""
    return [AuthorizationCodeGrant(), RefreshTokenGrant(), ClientCredentialsGrant(), DeviceCodeGrant(),
            TokenExchangeGrant()]
