"""A client's public keys (RFC 7591 §2 ``jwks`` / ``jwks_uri``), as the request objects it signs are checked
with them (oauth/request_object.py).

Keys registered by value are the credential's ``jwks``. A ``jwks_uri`` is fetched by oauth/fetch.py's SSRF rules
(https, the system's CA store, no private addresses unless HOSPES_FETCH_ALLOW_PRIVATE, no redirects, size and
time limits), outside any transaction, and the set kept in this process for the answer's Cache-Control max-age,
held between ``MIN_AGE`` and ``MAX_AGE`` (``DEFAULT_AGE`` without one): a client that rotates its keys publishes
the new one that long before it signs with it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from hospes.oauth import errors, fetch

if TYPE_CHECKING:  # the provider's discovery document imports this module
    from hospes.oauth.provider import Provider

LIMIT = 65536  # bytes of a JWKS document
MIN_AGE, DEFAULT_AGE, MAX_AGE = 60, 300, 3600  # seconds a fetched set is kept
MAX_KEPT = 1024  # sets kept per process; the oldest go first

_kept: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def of(provider: Provider, jwks: dict[str, Any] | None, jwks_uri: str | None) -> dict[str, Any] | None:
    """The client's key set: ``jwks``, or its ``jwks_uri``'s (fetched when not kept); None when it has none.
    A set that cannot be fetched is ``InvalidRequestObject`` with the reason."""
    if jwks:
        return jwks
    if not jwks_uri:
        return None
    with _lock:
        kept = _kept.get(jwks_uri)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    try:
        got = fetch.fetch(jwks_uri, allow_private=provider.settings.fetch_allow_private, limit=LIMIT,
                          accept="application/jwk-set+json, application/json")
        keys = json.loads(got.body)
    except fetch.FetchError as exc:
        raise errors.InvalidRequestObject(f"The client's jwks_uri could not be fetched: {exc}") from None
    except ValueError:
        raise errors.InvalidRequestObject("The client's jwks_uri did not answer with JSON.") from None
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise errors.InvalidRequestObject("The client's jwks_uri did not answer with a JWK set.")
    age = min(max(got.max_age if got.max_age is not None else DEFAULT_AGE, MIN_AGE), MAX_AGE)
    with _lock:
        if len(_kept) >= MAX_KEPT:
            del _kept[min(_kept, key=lambda uri: _kept[uri][0])]
        _kept[jwks_uri] = (time.monotonic() + age, keys)
    return keys
