"""What the customer API (web/api.py) and the MCP server (web/mcp.py) share as protected resources: reading the
access token and its DPoP proof from a request, and the challenge of a refusal.

RFC 6750 §2.1 and RFC 9449 §7.1: the token comes in ``Authorization: Bearer`` or ``Authorization: DPoP`` (with a
``DPoP`` proof, checked before the token is looked up). RFC 6750 §3 and RFC 9728 §5.1: a 401 or 403 carries a
``WWW-Authenticate`` challenge naming the error (none when no token was sent, §3.1), the scope or ACR needed, and
where the resource's metadata is; in the DPoP scheme for a DPoP request or a proof's own error (RFC 9449 §7.1),
with the nonce to use when one is needed (§9).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from hospes.oauth import dpop, errors
from hospes.oauth.provider import Provider

Headers = list[tuple[bytes, bytes]]


def presented(request: Request) -> tuple[str, str] | None:
    """The scheme ("bearer" or "dpop") and the access token of the Authorization header, if it has one."""
    return dpop.scheme_and_token(request.headers.get("authorization"))


def proof_of(provider: Provider, scheme: str, token: str, request: Request) -> Any:
    """A DPoP request's proof, checked (RFC 9449 §7.1, §4.3), or None for a bearer request."""
    if scheme != "dpop":
        return None
    return provider.dpop.at_resource(scheme, token, request.headers.getlist("dpop"), request.method,
                                     request.scope["path"])


def refusal_headers(provider: Provider, status: int, scheme: str | None, error: errors.OAuthError | None,
                    parts: list[str]) -> Headers:
    """The headers of a refusal: DPoP-Nonce when the proof needs one, and for 401 and 403 the challenge, with
    ``parts`` (scope, acr_values, resource_metadata) after the error. ``error`` is None when no token was sent."""
    headers: Headers = []
    if isinstance(error, errors.UseDpopNonce):
        headers.append((b"dpop-nonce", error.nonce.encode()))
    if status not in (401, 403):
        return headers
    if dpop.uses_dpop(scheme, error):
        challenge = provider.dpop.challenge_for(error, ", ".join(parts))
    else:
        described = []
        if error is not None:
            described.append(f'error="{error.error}"')
            if error.description:
                # RFC 9110 §5.6.4 quoted-string: the descriptions keep to RFC 6749's characters.
                described.append(f'error_description="{errors.description_text(error.description)}"')
        challenge = ", ".join(['Bearer realm="hospes"', *described, *parts])
    headers.append((b"www-authenticate", challenge.encode("ascii")))
    return headers
