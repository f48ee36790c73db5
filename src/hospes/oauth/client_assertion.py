"""Client authentication by JWT (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9):
``private_key_jwt`` (signed with the client's own key) and ``client_secret_jwt`` (an HMAC under its secret).

The client sends ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and the JWT
as ``client_assertion``. ``parse`` reads it before any stored client is looked at (client_auth.py
``presented``); ``Verifier.verify`` checks it against the client's row (client_auth.py ``check``), and
client_auth.py ``authenticate`` records its ``jti`` (store/replay.py). The rules:

- The credential's ``token_endpoint_auth_method`` decides: a private_key_jwt client is checked against its
  ``jwks`` or the keys at its ``jwks_uri``, a client_secret_jwt one against its secret (kept sealed,
  oauth/credentials.py ``seal_secret``: an HMAC key cannot be a digest). Any other client presenting an
  assertion, or these presenting a secret, is ``invalid_client``: no fall-back.
- ``alg``: an asymmetric one for private_key_jwt (RS, PS, ES, EdDSA), HS256/384/512 for client_secret_jwt,
  never ``none`` (RFC 8725 §3.1, §3.2); a header with ``crit`` is refused (RFC 7515 §4.1.11).
- ``iss`` and ``sub`` are the client_id (RFC 7523 §3 items 1-2; a ``client_id`` parameter must be the same).
- ``aud`` (a string, or an array holding one): the issuer identifier, the token endpoint's URL (OIDC Core §9
  names it; Authlib sends it), or the URL of the endpoint that receives the assertion (introspection,
  revocation, PAR). draft-ietf-oauth-rfc7523bis asks for the issuer alone, against audience injection; the
  endpoint URLs are Hospes's own, so accepting them lets no other server's assertion through, and the clients
  in use (Authlib: the endpoint's URL; oauth4webapi and openid-client: the issuer) keep working.
- ``exp`` is required, not past (60 s of leeway) and at most ``MAX_LIFETIME`` ahead: an assertion is short
  lived, and its jti is kept until then. ``nbf`` and ``iat``, when present, not in the future.
- ``jti`` is required (OIDC Core §9: REQUIRED) and used once, on every node (RFC 7523 §3 item 7).
- ``jwks_uri`` is fetched by oauth/fetch.py's rules (https, no private addresses unless
  HOSPES_FETCH_ALLOW_PRIVATE, no redirects, 64 KiB, 5 s) outside any transaction, kept for the answer's
  max-age (bounded to ``MIN_KEEP``..``MAX_KEEP``), and fetched again, at most every ``REFETCH_AFTER``, for a
  kid it does not hold (the client rotated its keys). Verifying inside a unit of work never waits for the
  network: a key set not held raises ``KeysNeeded``, the caller fetches (``keys_then``) and tries again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from hospes.oauth import errors, fetch
from hospes.oauth.credentials import CredentialError, jwks_value, open_secret
from hospes.store.clients import ClientRow

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 §2.2
PRIVATE_KEY_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
SECRET_ALGS = ("HS256", "HS384", "HS512")
SIGNING_ALGS = PRIVATE_KEY_ALGS + SECRET_ALGS  # discovery's *_auth_signing_alg_values_supported
JWT_METHODS = ("private_key_jwt", "client_secret_jwt")
MAX_ASSERTION = 8192  # characters
MAX_CLIENT_ID = 512
MAX_JTI = 256
MAX_LIFETIME = 3600  # seconds an assertion may still have to live (Authlib's default is 3600)
LEEWAY = 60  # seconds of clock difference
JWKS_LIMIT = 65536  # bytes of a jwks_uri document
MIN_KEEP, DEFAULT_KEEP, MAX_KEEP = 60.0, 300.0, 3600.0  # seconds a fetched key set is kept
REFETCH_AFTER = 60.0  # at most one fetch per jwks_uri this often for an unknown kid or after a failure
_HASH_BITS = {"HS256": 256, "HS384": 384, "HS512": 512}

T = TypeVar("T")


def _bad(message: str) -> errors.InvalidClient:
    return errors.InvalidClient(message)


class Unverified(NamedTuple):
    """A client assertion as sent, read but not yet trusted."""

    client_id: str  # its iss and sub
    alg: str
    kid: str | None
    claims: dict[str, Any]
    value: str  # the compact JWS


class VerifiedAssertion(NamedTuple):
    """What a checked assertion leaves to record: its jti, single use until it expires (store/replay.py)."""

    jti: str
    expires_at: datetime


def parse(value: str, assertion_type: str | None) -> Unverified:
    """RFC 7521 §4.2: the assertion and its type, read without the client's keys (its iss/sub say who it is)."""
    if assertion_type != ASSERTION_TYPE:
        raise _bad("The client_assertion_type is not supported; use "
                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
    if not value or len(value) > MAX_ASSERTION or not value.isascii():
        raise _bad("The client assertion is malformed.")
    try:
        token = jws.extract_compact(value.encode("ascii"))
        header = token.headers()
        claims = json.loads(token.payload)
    except (JoseError, ValueError, TypeError, UnicodeDecodeError):
        raise _bad("The client assertion is malformed.") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SIGNING_ALGS:
        raise _bad("The client assertion's alg is not one this server accepts.")
    if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood here
        raise _bad("The client assertion has a critical header this server does not understand.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _bad("The client assertion's kid must be a string.")
    if not isinstance(claims, dict):
        raise _bad("The client assertion's payload must be a JSON object.")
    iss, sub = claims.get("iss"), claims.get("sub")
    # RFC 7523 §3 items 1-2; OIDC Core §9: both are the client_id.
    if not isinstance(iss, str) or not iss or iss != sub or len(iss) > MAX_CLIENT_ID or "\x00" in iss:
        raise _bad("The client assertion's iss and sub must both be the client_id.")
    return Unverified(iss, alg, kid, claims, value)


class _Fetched(NamedTuple):
    keys: KeySet | None  # None: the fetch failed (``error`` says why)
    fetched_at: float  # time.monotonic()
    fresh_until: float
    error: str
    document: dict[str, Any] | None = None  # the JWK Set as fetched (request objects read it)


class KeysNeeded(Exception):  # noqa: N818 (a request to the caller, not an error)
    """The keys at ``uri`` must be fetched (outside the transaction) before the assertion can be checked."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.uri = uri


class ClientKeys:
    """The key sets this process holds: fetched from clients' jwks_uri, and those registered inline (parsed
    once per distinct JWK Set, not once per request)."""

    def __init__(self, *, allow_private: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.allow_private = allow_private
        self._clock = clock
        self._fetched: dict[str, _Fetched] = {}
        self._inline: OrderedDict[str, KeySet] = OrderedDict()
        self._lock = threading.Lock()

    def inline(self, stored: Any) -> KeySet:
        """The KeySet of a registered ``jwks`` (the column as the driver gave it), parsed once."""
        text = stored if isinstance(stored, str) else json.dumps(stored, sort_keys=True)
        with self._lock:
            found = self._inline.get(text)
            if found is not None:
                self._inline.move_to_end(text)
                return found
        keys = KeySet.import_key_set(json.loads(text))
        with self._lock:
            self._inline[text] = keys
            while len(self._inline) > 256:
                self._inline.popitem(last=False)
        return keys

    def at_uri(self, uri: str, kid: str | None) -> KeySet:
        """The keys at ``uri`` when held and fresh (and holding ``kid``, when one is named); KeysNeeded when they
        should be fetched; invalid_client when the last fetch failed, not long ago."""
        entry = self._fetched.get(uri)
        t = self._clock()
        may_fetch = entry is None or t - entry.fetched_at >= REFETCH_AFTER
        if entry is None or (t >= entry.fresh_until and may_fetch):
            raise KeysNeeded(uri)
        if entry.keys is None:
            raise _bad(f"The client's keys could not be fetched from its jwks_uri: {entry.error}")
        if kid is not None and may_fetch and not any(k.kid == kid for k in entry.keys.keys):
            raise KeysNeeded(uri)  # the client may have rotated its keys
        return entry.keys

    def document(self, uri: str) -> dict[str, Any]:
        """The JWK Set at ``uri`` as a JSON object (for request objects, oauth/request_object.py), fetched first
        when not held fresh, by the same rules as ``at_uri``: blocking, so called from a thread. invalid_client
        with the reason when it cannot be had."""
        entry = self._fetched.get(uri)
        t = self._clock()
        if entry is None or (t >= entry.fresh_until and t - entry.fetched_at >= REFETCH_AFTER):
            entry = self._fetched[uri] = self._fetch(uri)
        if entry.document is None:
            raise _bad(f"The client's keys could not be fetched from its jwks_uri: {entry.error or 'no keys'}")
        return entry.document

    async def fetch(self, uri: str) -> None:
        """Fetch ``uri`` (in a thread: oauth/fetch.py blocks) and keep what came, or why nothing did."""
        entry = self._fetched.get(uri)
        if entry is not None and self._clock() - entry.fetched_at < 1.0:
            return  # another request fetched it a moment ago
        self._fetched[uri] = await asyncio.to_thread(self._fetch, uri)

    def _fetch(self, uri: str) -> _Fetched:
        t = self._clock()
        try:
            got = fetch.fetch(uri, allow_private=self.allow_private, limit=JWKS_LIMIT,
                              accept="application/jwk-set+json, application/json")
            checked = jwks_value(got.body.decode("utf-8"))
            assert checked is not None
            keys = KeySet.import_key_set(checked)  # type: ignore[arg-type]
        except (fetch.FetchError, CredentialError, UnicodeDecodeError, JoseError, ValueError) as exc:
            return _Fetched(None, t, t + REFETCH_AFTER, str(exc))
        keep = DEFAULT_KEEP if got.max_age is None else min(max(float(got.max_age), MIN_KEEP), MAX_KEEP)
        return _Fetched(keys, t, t + keep, "", checked)  # type: ignore[arg-type]


async def keys_then(keys: ClientKeys, attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()``; when it needs a client's keys fetched first, fetch them and attempt once more (the
    second attempt finds them, or the reason they could not be had)."""
    try:
        return await attempt()
    except KeysNeeded as need:
        await keys.fetch(need.uri)
    return await attempt()


class Verifier:
    """Checks assertions at one endpoint: its accepted audiences, the secret key that opens client_secret_jwt
    secrets, and the key sets held."""

    __slots__ = ("audiences", "keys", "secret_key")

    def __init__(self, audiences: Sequence[str], secret_key: bytes, keys: ClientKeys) -> None:
        self.audiences = frozenset(audiences)
        self.secret_key = secret_key
        self.keys = keys

    def verify(self, u: Unverified, row: ClientRow, at: float | None = None) -> VerifiedAssertion:
        """The assertion checked against the client ``row`` by the rules above, or invalid_client."""
        method = row.token_endpoint_auth_method
        if method == "private_key_jwt":
            if u.alg not in PRIVATE_KEY_ALGS:
                raise _bad("A private_key_jwt assertion must be signed with the client's private key "
                           "(RS*, PS*, ES* or EdDSA).")
            candidates = self._public_keys(u, row)
        elif method == "client_secret_jwt":
            if u.alg not in SECRET_ALGS:
                raise _bad("A client_secret_jwt assertion must be an HMAC (HS256, HS384 or HS512).")
            candidates = [self._secret_key(u, row)]
        else:
            raise _bad("This client does not authenticate with a JWT.")
        for key in candidates:
            try:
                jws.deserialize_compact(u.value, key, algorithms=[u.alg])
                break
            except JoseError:
                continue
        else:
            raise _bad("The client assertion's signature does not verify.")
        return _claims(u, self.audiences, time.time() if at is None else at)

    def _public_keys(self, u: Unverified, row: ClientRow) -> list[Any]:
        if row.stored_jwks is not None:
            key_set = self.keys.inline(row.stored_jwks)
        elif row.jwks_uri is not None:
            key_set = self.keys.at_uri(row.jwks_uri, u.kid)
        else:
            raise _bad("The client has no keys registered.")
        keys = [k for k in key_set.keys if u.kid is None or k.kid == u.kid]
        # A key marked for another algorithm is not tried (RFC 7517 §4.4).
        keys = [k for k in keys if k.get("alg") in (None, u.alg)]
        if not keys:
            raise _bad("None of the client's keys matches the client assertion (kid, alg).")
        return keys

    def _secret_key(self, u: Unverified, row: ClientRow) -> OctKey:
        secret = open_secret(self.secret_key, row.identifier, row.secret_sealed) if row.secret_sealed else None
        if secret is None:
            raise _bad("The client has no secret for client_secret_jwt; reset its secret.")
        raw = secret.encode("utf-8")
        # RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
        if len(raw) * 8 < _HASH_BITS[u.alg]:
            raise _bad(f"The client's secret is too short for {u.alg}.")
        return OctKey.import_key(raw)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) > 1e11:
        raise _bad(f"The client assertion's {name} must be a NumericDate.")
    return float(value)


def _claims(u: Unverified, audiences: frozenset[str], t: float) -> VerifiedAssertion:
    """RFC 7523 §3 items 3-7 (the signature already checked)."""
    claims = u.claims
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(v, str) and v in audiences for v in values):
        raise _bad("The client assertion's aud must be this server's issuer identifier or the endpoint's URL.")
    exp = _number(claims, "exp")
    if exp is None:
        raise _bad("The client assertion must have an exp.")
    if exp <= t - LEEWAY:
        raise _bad("The client assertion has expired.")
    if exp > t + MAX_LIFETIME + LEEWAY:
        raise _bad(f"The client assertion may live at most {MAX_LIFETIME} seconds.")
    for name in ("nbf", "iat"):
        value = _number(claims, name)
        if value is not None and value > t + LEEWAY:
            raise _bad(f"The client assertion's {name} is in the future.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI:
        raise _bad("The client assertion must have a jti (a string of at most 256 characters).")
    return VerifiedAssertion(jti, datetime.fromtimestamp(exp + LEEWAY, UTC))
