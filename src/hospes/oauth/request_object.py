"""Request objects (RFC 9101, JWT-Secured Authorization Request; OpenID Connect Core §6.1): an authorization
request's parameters as a JWT the client signed with its own key, passed by value in ``request``.

The object is checked before anything else of the request is looked at (``verify``):

- a JWS in compact form (a JWE is refused: no request_object_encryption is offered), signed with an algorithm of
  ``ALGORITHMS`` (never ``none``, RFC 9101 §10.1) by a key of the client's registered JWKS (``jwks`` or
  ``jwks_uri``), a ``typ`` that is none, ``JWT`` or ``oauth-authz-req+jwt`` (§4, §10.8: not another kind of JWT);
- ``iss`` the client_id and ``aud`` the issuer (§4, §10.2), ``client_id`` (if present) that of the request
  (§5), ``exp`` required and at most ``MAX_LIFETIME`` ahead, ``nbf`` and ``iat`` not in the future nor older than
  ``MAX_LIFETIME``; a ``jti``, used once (store/replay.py, until ``exp``): a request object seen again is refused
  on every node;
- the parameters are those of the object alone (§6.3): those of the query are ignored, but client_id.

A bad object is ``invalid_request_object`` (§6.2, §7). The parameters go on to oauth/authorize.py's own
rules, at the authorization endpoint or, pushed, at the PAR endpoint (oauth/par.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from hospes.clock import now
from hospes.oauth import errors
from hospes.oauth.params import one
from hospes.store import clients, replay
from hospes.store.sql import drive, session_tx

if TYPE_CHECKING:  # the provider's discovery document imports this module
    from hospes.oauth.provider import Provider

# RFC 9101 §10.1: signed, by the algorithms the client's keys can be used with; none is never accepted.
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
_KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}
# RFC 9101 §4 (and §10.8, explicit typing): a request object says it is one, or says nothing more than JWT.
TYPES = (None, "JWT", "oauth-authz-req+jwt")
# A request object carries an authorization request: a few kilobytes at most.
MAX_REQUEST = 16384
# The longest a request object may be valid for (exp), or have been made before now (nbf, iat): it is used at
# once, and its jti is remembered until exp.
MAX_LIFETIME = 3600
# Clocks differ a little: nbf and iat may be this far in the future.
SKEW = 60
MAX_JTI = 255
# The JWT's own claims (RFC 7519 §4.1): not authorization request parameters.
JWT_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "sub"})


def _keys(jwks: Mapping[str, Any] | None, kid: Any, alg: str) -> list[Any]:
    """The client's keys that may have signed with ``alg`` (the one of its ``kid``, when named)."""
    found = []
    for jwk in (jwks or {}).get("keys") or []:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        if jwk.get("alg") not in (None, alg):
            continue
        try:
            key = _KEY_TYPES[alg].import_key(jwk)
        except (JoseError, ValueError, TypeError, KeyError):
            continue  # a key of another type, or not a key: not this one
        found.append(key)
    return found


def header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, before its signature is checked (which key, which algorithm)."""
    if len(token) > MAX_REQUEST:
        raise errors.InvalidRequestObject("The request object is too large.")
    if token.count(".") == 4:
        raise errors.InvalidRequestObject("Encrypted request objects are not supported.")
    try:
        return dict(jws.extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise errors.InvalidRequestObject("The request object is not a signed JWT.") from None


def verify(token: str, jwks: Mapping[str, Any] | None, *, client_id: str, issuer: str, at: int) -> dict[str, Any]:
    """The claims of a request object signed by a key of ``jwks`` (the client's), checked as the module says
    (but for the jti's single use, which the caller records); ``at``: now, in epoch seconds."""
    head = header(token)
    alg = head.get("alg")
    if alg not in ALGORITHMS:
        raise errors.InvalidRequestObject(f"Request objects must be signed with one of {', '.join(ALGORITHMS)}.")
    if head.get("typ") not in TYPES:
        raise errors.InvalidRequestObject("The request object's typ is not oauth-authz-req+jwt.")
    if "crit" in head:
        raise errors.InvalidRequestObject("The request object's header names critical extensions not known here.")
    payload = None
    for key in _keys(jwks, head.get("kid"), alg):
        try:
            payload = jws.deserialize_compact(token, key, algorithms=[alg]).payload
            break
        except (JoseError, ValueError, TypeError):
            continue
    if payload is None:
        raise errors.InvalidRequestObject("The request object's signature does not verify with the client's keys.")
    try:
        claims = json.loads(payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise errors.InvalidRequestObject("The request object's payload is not a JSON object.")
    _check(claims, client_id=client_id, issuer=issuer, at=at)
    return claims


def _number(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InvalidRequestObject(f"The request object's {name} is not a number.")
    return int(value)


def _check(claims: Mapping[str, Any], *, client_id: str, issuer: str, at: int) -> None:
    # RFC 9101 §4 and §10.2 (OIDC Core §6.1): from this client, for this server.
    if claims.get("iss") != client_id:
        raise errors.InvalidRequestObject("The request object's iss must be the client_id.")
    aud = claims.get("aud")
    if not (aud == issuer or (isinstance(aud, list) and issuer in aud)):
        raise errors.InvalidRequestObject("The request object's aud must be this server's issuer.")
    # RFC 9101 §5: "the value of client_id ... MUST match the client_id claim in the request object".
    if "client_id" in claims and claims["client_id"] != client_id:
        raise errors.InvalidRequestObject("The request object's client_id is not the request's.")
    exp = _number(claims, "exp")
    if exp is None:
        raise errors.InvalidRequestObject("The request object must carry exp.")
    if exp <= at:
        raise errors.InvalidRequestObject("The request object has expired.")
    if exp > at + MAX_LIFETIME:
        raise errors.InvalidRequestObject(f"The request object must expire within {MAX_LIFETIME} seconds.")
    for name in ("nbf", "iat"):
        value = _number(claims, name)
        if value is not None and value > at + SKEW:
            raise errors.InvalidRequestObject(f"The request object's {name} is in the future.")
        if value is not None and value < at - MAX_LIFETIME:
            raise errors.InvalidRequestObject(f"The request object's {name} is too old.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI:
        raise errors.InvalidRequestObject("The request object must carry a jti (a string), used once.")
    for name in ("request", "request_uri"):
        if name in claims:
            raise errors.InvalidRequestObject(f"A request object must not carry {name}.")


def parameters(claims: Mapping[str, Any], client_id: str) -> dict[str, list[str]]:
    """The authorization request the claims make (RFC 9101 §6.3: these parameters alone), as a query's."""
    params: dict[str, list[str]] = {"client_id": [client_id]}
    for name, value in claims.items():
        if name in JWT_CLAIMS or name == "client_id":
            continue
        if isinstance(value, str):
            params[name] = [value]
        elif isinstance(value, bool):
            raise errors.InvalidRequestObject(f"The request object's {name} must not be a boolean.")
        elif isinstance(value, int):
            params[name] = [str(value)]  # max_age (OIDC Core §6.1: a number in the object)
        elif name == "claims" and isinstance(value, dict):
            params[name] = [json.dumps(value, separators=(",", ":"))]  # OIDC Core §5.5 as JSON text
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            params[name] = list(value)  # RFC 8707: resource, which may be repeated
        else:
            raise errors.InvalidRequestObject(f"The request object's {name} is not a parameter value.")
    return params


def jti_of(claims: Mapping[str, Any]) -> tuple[str, int]:
    """The jti and the exp of verified claims: what the replay record keeps, and until when."""
    return str(claims["jti"]), int(claims["exp"])


def carried(params: Mapping[str, Sequence[str]]) -> bool:
    """Whether an authorization request carries a request object."""
    return "request" in params


def unpack(provider: Provider, params: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The parameters of the request object an authorization request carries, in place of the request's own
    (RFC 9101 §6.3), once it is verified with the client's keys and its jti recorded as used; or
    ``InvalidRequestObject``. Run outside any transaction: the client's ``jwks_uri`` may be fetched."""
    token = one(params, "request", limit=None) or ""
    client_id = one(params, "client_id")
    if not client_id:
        # RFC 9101 §5: the client_id goes with the request object, in the query.
        raise errors.InvalidRequest("The client_id parameter is required with a request object.")
    with provider.db.read() as s:
        cred = clients.credential(s, client_id)
        if cred is None:
            raise errors.InvalidRedirect("invalid_client", "The client id supplied is invalid")
        jwks, jwks_uri = cred.jwks, cred.jwks_uri
    header(token)  # a malformed or oversized object is refused before any key is fetched
    keys = jwks
    if not keys and jwks_uri:
        try:
            keys = provider.client_keys.document(jwks_uri)  # the keys private_key_jwt uses too
        except errors.InvalidClient as exc:
            raise errors.InvalidRequestObject(exc.description) from None
    if not keys:
        raise errors.InvalidRequestObject("The client has registered no keys (jwks or jwks_uri) to sign with.")
    at = now()
    claims = verify(token, keys, client_id=client_id, issuer=provider.issuer, at=int(at.timestamp()))
    jti, exp = jti_of(claims)
    # RFC 9101 §10.8 (and the jti's purpose): a request object is used once, on every node, until it expires.
    with provider.db.transaction() as s:
        first = drive(replay.first_use(session_tx(s), replay.REQUEST_OBJECT, replay.key(client_id, jti),
                                       datetime.fromtimestamp(exp, UTC), at=at))
    if not first:
        raise errors.InvalidRequestObject("The request object was used before.")
    return parameters(claims, client_id)
