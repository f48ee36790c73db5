"""Pushed authorization requests (RFC 9126).

A client posts its authorization request to ``{issuer}/oauth/par``, authenticated as at the token endpoint
(oauth/client_auth.py, RFC 9126 §2). The request is validated there by the authorization endpoint's own rules
(oauth/authorize.py ``parse_request``), so a bad one is refused to the client directly, as JSON (§2.3), before
any person sees it. A valid one is kept (store/pushed_requests.py) under a ``request_uri`` of 256 random bits
for ``TTL`` seconds, and the client sends the person to the authorization endpoint with only ``client_id``
and that ``request_uri`` (§4). There the request is taken, once: the parameters are the pushed ones, and
validated again (the client's settings may have changed in the meantime); anything else in the query is
ignored.

A client that must push (its credential's ``require_par``, or HOSPES_REQUIRE_PAR for all) is refused at the
authorization endpoint without a pushed request (§5).

A DPoP proof sent with the push (RFC 9449 §10.1) is checked as at the token endpoint (oauth/dpop.py: htu is this
endpoint's URL; a server nonce when HOSPES_DPOP_NONCE asks for one at the token endpoint; its jti used once) and
binds the request to its key exactly as a ``dpop_jkt`` parameter would: the code issued for it is redeemed only
with a proof by that key (grants/authorization_code.py).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from hospes.clock import now
from hospes.oauth import authorize, client_assertion, client_auth, dpop, errors, request_object
from hospes.oauth.params import Params, one
from hospes.oauth.provider import Provider
from hospes.secrets import digest, new_token
from hospes.store import pushed_requests as store
from hospes.store.sql import Tx, drive, session_tx

# RFC 9126 §2.2: "urn:ietf:params:oauth:request_uri:" followed by a reference of the server's choice.
PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 9126 §2.2: a short lifetime ("between 5 and 600 seconds" is given as an example): the client redirects
# the person at once.
TTL = 60
# Client authentication's own parameters (RFC 6749 §2.3.1; RFC 7523 §2.2): not part of the authorization
# request, and never stored.
# The endpoint's path below the issuer (app.py): a client assertion sent here may name its URL as aud (RFC 9126 §2).
PATH = "/oauth/par"
CLIENT_AUTHENTICATION = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


async def push(provider: Provider, authorization: str | None, form: Params, *, dpop_proofs: Sequence[str] = (),
               path: str = PATH) -> dict[str, Any]:
    """The PAR endpoint: the client authenticated, the request validated and kept; the response (RFC 9126 §2.2),
    or an ``OAuthError`` to answer as JSON (§2.3). ``dpop_proofs``: the values of the request's DPoP headers, and
    ``path`` the one it was posted to (the issuer's path included), for the proof's htu (RFC 9449 §10.1)."""
    presented = client_auth.presented(authorization, form)
    # RFC 9449 §10.1: "the authorization server MUST check the provided DPoP proof JWT as defined in Section 4.3",
    # as the token endpoint does (oauth/token.py): before the client is authenticated; its jti is recorded last.
    value = dpop.one_proof(dpop_proofs)
    proof = provider.dpop.check(value, "POST", path) if value is not None else None
    # A private_key_jwt client's keys at its jwks_uri are fetched first, outside any transaction.
    return await client_assertion.keys_then(provider.client_keys, lambda: _push(provider, presented, form, proof))


def bind_to_proof(params: dict[str, list[str]], proof: dpop.Proof) -> None:
    """RFC 9449 §10.1: a push with a DPoP proof is bound to its key "as if the contained public key's thumbprint was
    provided using dpop_jkt"; a ``dpop_jkt`` sent as well must name that key ("the authorization server MUST
    reject the request if the JWK Thumbprint in dpop_jkt does not match the public key in the DPoP header"). The
    RFC names no error code for the mismatch: the parameter's value is wrong, so invalid_request (RFC 6749 §5.2),
    the proof itself being valid."""
    for sent in params.get("dpop_jkt") or ():
        if not hmac.compare_digest(sent.encode(), proof.jkt.encode()):
            raise errors.InvalidRequest("The dpop_jkt does not match the key of the DPoP proof.")
    params["dpop_jkt"] = [proof.jkt]


async def _push(provider: Provider, presented: client_auth.Presented, form: Params,
                proof: dpop.Proof | None) -> dict[str, Any]:
    if one(form, "request_uri") is not None:
        # RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT
        # be provided."
        raise errors.InvalidRequest("The request_uri parameter must not be pushed.")
    # RFC 9126 §2.1: the client_id is the authenticated client's (client_auth.presented refuses another).
    params = {name: list(values) for name, values in form.items() if name not in CLIENT_AUTHENTICATION}
    params["client_id"] = [presented.client_id]
    params, credential_id = await asyncio.to_thread(_checked, provider, presented, params, proof)
    request_uri = PREFIX + new_token()

    async def unit(tx: Tx) -> None:
        if proof is not None:
            await dpop.remember_in(tx, proof)  # RFC 9449 §11.1: its jti once, on every node
        await store.push(tx, digest(request_uri), credential_id, params, now() + timedelta(seconds=TTL))

    # The one write, through the writer (on SQLite, committed with the other requests' writes of the moment).
    await provider.db.writer.run(unit)
    return {"request_uri": request_uri, "expires_in": TTL}


def _checked(provider: Provider, presented: client_auth.Presented, params: dict[str, list[str]],
             proof: dpop.Proof | None) -> tuple[dict[str, list[str]], int]:
    """The client authenticated, then the request checked as the authorization endpoint would (RFC 9126 §2.1):
    the parameters to keep and the client's credential id."""
    verifier = provider.verifier(PATH)
    client = None
    if presented.assertion is not None or request_object.carried(params):
        # A transaction of its own, committed before any key of a request object is fetched, and whatever the
        # request's fate: a client assertion's jti is recorded as it authenticates (RFC 7523 §3).
        with provider.db.transaction() as s:
            client = drive(client_auth.authenticate(session_tx(s), presented, verifier=verifier))
        if request_object.carried(params):
            # RFC 9126 §3: a request object may be pushed; its parameters alone count (RFC 9101 §6.3).
            params = request_object.unpack(provider, params)
    # A client that authenticates with its secret (or none) writes nothing here: it is read with the request.
    with provider.db.read() as s:
        if client is None:
            client = drive(client_auth.authenticate(session_tx(s), presented, verifier=verifier))
        if proof is not None:
            bind_to_proof(params, proof)
        try:
            authorize.parse_request(provider, s, params, pushed=True)
        except errors.InvalidRedirect as exc:
            # No redirect to worry about: the client is answered directly (RFC 9126 §2.3).
            raise errors.InvalidRequest(exc.description) from None
        except authorize.AuthorizationError as exc:
            raise exc.error from None
    return params, client.id


def names_pushed_request(params: Mapping[str, Sequence[str]]) -> bool:
    """Whether an authorization request refers to a pushed request (a request_uri of ours)."""
    return any(value.startswith(PREFIX) for value in params.get("request_uri") or ())


def redeem(s: Session, params: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The pushed request an authorization request's request_uri names, taken (one-time use, RFC 9126 §4),
    for the client_id it carries; ``InvalidRedirect`` when there is none (unknown, used, expired, another
    client's): without the request there is no redirect URI to send an error to. ``s``: an ORM session in
    a transaction of its own, committed whatever happens next, so a request_uri is never used twice."""
    try:
        request_uri = one(params, "request_uri")
        client_id = one(params, "client_id")
    except errors.OAuthError as exc:
        raise errors.InvalidRedirect("invalid_request", exc.description) from None
    if not client_id:
        # RFC 9126 §4: the client_id goes with the request_uri, and must be the pushing client's.
        raise errors.InvalidRedirect("invalid_request", "The client_id parameter is required with request_uri.")
    pushed = drive(store.take(session_tx(s), digest(request_uri or ""), client_id, now()))
    if pushed is None:
        # RFC 9101 §7 (and RFC 9126 §4): invalid_request_uri.
        raise errors.InvalidRedirect("invalid_request_uri",
                                     "The request_uri is unknown, expired, already used or another client's.")
    return pushed
