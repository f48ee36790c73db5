"""The token endpoint (RFC 6749 §3.2): find the grant for the request, parse the client's credentials,
hand both to the grant.

The grants and the interface they share are in oauth/grants/ (base.py); which grants are offered is
decided when the application is built (``Provider.grants``, from app.py ``create_app``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hospes import metrics
from hospes.oauth import client_auth, dpop, errors
from hospes.oauth.grants.base import TokenRequest
from hospes.oauth.params import Params
from hospes.oauth.provider import Provider


async def token_request(provider: Provider, authorization: str | None, form: Params,
                        query: Params, ip: str = "", *, dpop_proofs: Sequence[str] = (),
                        path: str = "") -> dict[str, Any]:
    """The token response for a request with this Authorization header, posted form and query string from
    ``ip``, and the values of its DPoP headers (RFC 9449 §5) with the path it was posted to; counted
    (hospes/metrics.py) by the grant's own name, or refused by its error code."""
    grant_type = None
    try:
        grant = provider.grants.select(form)
        grant_type = grant.grant_type
        params = grant.read(form, query)
        presented = client_auth.presented(authorization, params)
        declared = {name: params[name] for name in grant.parameters if name in params}
        value = dpop.one_proof(dpop_proofs)
        proof = provider.dpop.check(value, "POST", path) if value is not None else None
        body = await grant.handle(provider, TokenRequest(presented, declared, proof, ip))
    except errors.OAuthError as exc:
        metrics.token_refused(grant_type, exc.error)
        raise
    metrics.token_issued(grant_type, body)
    return body
