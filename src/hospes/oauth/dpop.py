"""DPoP (RFC 9449): checking a proof, the key a token is bound to, and the server's nonces. Framework-free.

A proof is a JWT the client signs with a key of its own for one HTTP request (§4). ``Dpop.check`` applies §4.3's
checks in order: one compact JWS; ``typ`` dpop+jwt; an asymmetric ``alg`` of ``ALGS`` (advertised as
``dpop_signing_alg_values_supported``); a public ``jwk`` in the header (no private member) of that algorithm's key
type; the signature, by joserfc; ``jti``, ``htm`` (the request's method), ``htu`` (the request's URL without query
and fragment, built from the configured issuer's origin, never from the request's Host: behind a proxy that is
the only trustworthy one), ``iat`` within the window (``IAT_PAST`` back, ``IAT_AHEAD`` ahead for clock skew);
``ath`` (§4.2: SHA-256 of the access token) when a token comes with it; the server's ``nonce`` when one is
required (``HOSPES_DPOP_NONCE``). The ``jti``'s single use (§11.1) is a write, done last: ``remember_in`` inside the
token (or PAR) endpoint's unit of work, ``remember`` for a resource (``admit``, after the token's binding is
checked), both through store/replay.py, so a proof is accepted once across every node within its window.

Nonces (§8, §9) are stateless: an HMAC, under a key derived from the secret key, of a ``NONCE_SLOT``-second slot
of the clock, so every node gives and accepts the same ones without sharing anything but the secret key. A nonce
is accepted in its own slot and the next (so it lives from one to two slots). ``HOSPES_DPOP_NONCE`` says where one
is required: ``off`` (nowhere; the default: a proof's ``iat`` window and its single-use ``jti`` already bound a
replay, and a nonce costs the client a round trip), ``token`` (the token endpoint, where a proof buys a token, and
the PAR endpoint, where it binds the code: oauth/par.py),
``always`` (the token endpoint and the resources). A proof that carries a nonce has it checked wherever it comes.

The key a token is bound to is its JWK SHA-256 thumbprint (RFC 7638), ``cnf.jkt`` (§6).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, RSAKey
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from hospes.clock import now
from hospes.oauth import errors
from hospes.store import replay
from hospes.store.sql import Tx

if TYPE_CHECKING:  # the provider holds a Dpop
    from hospes.oauth.provider import Provider

# §4.2 alg: asymmetric only, never none or a MAC. The key type (and curve) each one needs, checked before the
# signature is (RFC 8725 §3.1 / §2.1: the key decides nothing the algorithm did not).
_KEY_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "ES256": ("EC", frozenset({"P-256"})), "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "PS256": ("RSA", frozenset()), "PS384": ("RSA", frozenset()), "PS512": ("RSA", frozenset()),
    "RS256": ("RSA", frozenset()), "RS384": ("RSA", frozenset()), "RS512": ("RSA", frozenset()),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})), "Ed25519": ("OKP", frozenset({"Ed25519"})),
}
ALGS: tuple[str, ...] = tuple(_KEY_TYPES)
_REGISTRY = jws.JWSRegistry(algorithms=list(ALGS))  # joserfc's algorithms, these allowed (no others)
# Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
MAX_PROOF = 8192  # characters: a proof with a 4096-bit RSA key in its header is under 2,000
MAX_JTI = 256
IAT_PAST = 300  # seconds a proof is accepted after its iat (§11.1), and so how long its jti is remembered
IAT_AHEAD = 60  # seconds a proof's iat may be ahead of the server's clock (the client's clock may be fast)
NONCE_SLOT = 120  # seconds: a nonce is accepted in its slot and the next
NONCE_MODES = ("off", "token", "always")
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Proof(NamedTuple):
    """A proof that passed every check but its jti's single use."""

    jkt: str  # the public key's RFC 7638 thumbprint: cnf.jkt of the token it binds
    jti: str
    iat: int

    @property
    def replay_digest(self) -> bytes:
        """What seen_jtis keeps (§11.1): the jti with the key it belongs to (another key's jti is another proof)."""
        return replay.key(self.jkt, self.jti)

    @property
    def remember_until(self) -> int:
        """Epoch seconds after which the proof is refused for its iat anyway, so its jti may be forgotten."""
        return self.iat + IAT_PAST


class _Header(NamedTuple):
    alg: Any  # joserfc's algorithm model
    key: Any  # joserfc's key
    jkt: str


def ath(access_token: str) -> str:
    """§4.2 ath: base64url of the SHA-256 of the access token's ASCII."""
    return urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).decode()


def valid_jkt(value: str) -> bool:
    """An RFC 7638 SHA-256 thumbprint as RFC 9449 writes one (§6.1, §10): 43 base64url characters."""
    return len(value) == 43 and _B64URL.issuperset(value)


def one_proof(values: Sequence[str]) -> str | None:
    """The request's DPoP header: none, or exactly one (§4.3 item 1: more than one is refused)."""
    if not values:
        return None
    if len(values) > 1:
        raise errors.InvalidDpopProof("Send one DPoP header, not several.")
    return values[0]


def scheme_and_token(authorization: str | None) -> tuple[str, str] | None:
    """A resource request's ``Authorization: Bearer <token>`` (RFC 6750 §2.1) or ``DPoP <token>`` (RFC 9449 §7.1):
    ("bearer" or "dpop", the token); None for no header, another scheme, or no token."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme not in ("bearer", "dpop") or not value:
        return None
    return scheme, value


def bound(scheme: str, token_jkt: str | None, proof: Proof | None) -> None:
    """§7: a token presented at a resource with the scheme and proof its binding needs. A DPoP-bound token (its
    ``cnf.jkt``) comes with the DPoP scheme and a proof by that key; a bearer token never with the DPoP scheme."""
    if scheme == "bearer":
        if token_jkt is not None:
            # §7.2: a DPoP-bound token presented as a bearer token is refused.
            raise errors.InvalidToken("The access token is DPoP-bound: present it with the DPoP scheme and a proof.")
        return
    if token_jkt is None:
        raise errors.InvalidToken("The access token is not DPoP-bound: present it with the Bearer scheme.")
    if proof is None or not hmac.compare_digest(proof.jkt, token_jkt):
        # §7.1 and §6.1: the proof's key must be the one the token is bound to.
        raise errors.InvalidDpopProof("The DPoP proof is not signed by the key the access token is bound to.")


def _origin(url: str) -> str | None:
    """scheme://host[:port] of ``url``, normalised (RFC 3986 §6.2.2-6.2.3: case, default port), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    if port == (443 if scheme == "https" else 80):
        port = None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


@lru_cache(maxsize=1024)
def _htu(url: str) -> str | None:
    """``url`` as §4.3 item 9 compares it: normalised origin and path, without query and fragment."""
    origin = _origin(url)
    if origin is None:
        return None
    return origin + (unquote(urlsplit(url).path) or "/")


class Nonces:
    """§8/§9 nonces: HMAC-SHA256 of a clock slot under a key of the server's (see the module's docstring)."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time, slot_seconds: int = NONCE_SLOT) -> None:
        self._key = key
        self._clock = clock
        self._slot_seconds = slot_seconds
        self._cache: dict[int, str] = {}

    def _of(self, slot: int) -> str:
        value = self._cache.get(slot)
        if value is None:
            mac = hmac.new(self._key, b"dpop-nonce:%d" % slot, hashlib.sha256).digest()[:18]
            value = urlsafe_b64encode(mac).decode()
            if len(self._cache) > 4:
                self._cache.clear()
            self._cache[slot] = value
        return value

    def current(self) -> str:
        return self._of(int(self._clock() // self._slot_seconds))

    def valid(self, nonce: str) -> bool:
        slot = int(self._clock() // self._slot_seconds)
        given = nonce.encode()
        # Both compared, in constant time each: the answer's timing tells nothing of which matched.
        now_ok = hmac.compare_digest(given, self._of(slot).encode())
        before_ok = hmac.compare_digest(given, self._of(slot - 1).encode())
        return now_ok or before_ok


def _json_object(segment: str, part: str) -> dict[str, Any]:
    """A proof's base64url segment read as the JSON object it must be (RFC 7515 §7.1), or invalid_dpop_proof
    naming the ``part`` ("header is", "claims are")."""
    try:
        value = orjson.loads(urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, UnicodeEncodeError):
        raise errors.InvalidDpopProof(f"The DPoP proof's {part} not JSON.") from None
    if not isinstance(value, dict):
        raise errors.InvalidDpopProof(f"The DPoP proof's {part} not a JSON object.")
    return value


@lru_cache(maxsize=2048)
def _header(segment: str) -> _Header:
    """The checks of a proof's protected header (§4.3 items 3-6) and its key, imported once per distinct header: a
    client signs every proof under the same header, so its key is parsed, checked and thumbprinted once."""
    header = _json_object(segment, "header is")
    if header.get("typ") != "dpop+jwt":
        raise errors.InvalidDpopProof("The DPoP proof's typ must be dpop+jwt.")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _KEY_TYPES:
        raise errors.InvalidDpopProof(f"The DPoP proof's alg must be one of {', '.join(ALGS)}.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise errors.InvalidDpopProof("The DPoP proof's header must carry the public key (jwk).")
    if _PRIVATE & jwk.keys():
        raise errors.InvalidDpopProof("The DPoP proof's jwk must be a public key: it holds a private part.")
    kty, curves = _KEY_TYPES[alg]
    if jwk.get("kty") != kty or (curves and jwk.get("crv") not in curves):
        raise errors.InvalidDpopProof(f"The DPoP proof's jwk is not a key for {alg}.")
    try:
        key = JWKRegistry.import_key(jwk)
        if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
            raise errors.InvalidDpopProof(f"The DPoP proof's RSA key is shorter than {MIN_RSA_BITS} bits.")
        jkt = key.thumbprint()  # RFC 7638, SHA-256
    except (JoseError, ValueError, TypeError, KeyError):
        raise errors.InvalidDpopProof("The DPoP proof's jwk is not a valid key.") from None
    return _Header(_REGISTRY.get_alg(alg), key, jkt)


class Dpop:
    """The proof checker of one issuer, with its nonces (``provider.dpop``)."""

    def __init__(self, issuer: str, nonce_key: bytes, nonce_mode: str = "off",
                 clock: Callable[[], float] = time.time) -> None:
        if nonce_mode not in NONCE_MODES:
            raise ValueError(f"nonce_mode must be one of {NONCE_MODES}")
        origin = _origin(issuer)
        assert origin is not None, "the issuer is an absolute http(s) URL (config.py)"
        self.origin = origin
        self.nonce_mode = nonce_mode
        self.nonces = Nonces(nonce_key, clock)
        self._clock = clock
        self.algs = ALGS
        # §7.1: the challenge's algs parameter, and the whole challenge without an error.
        self.challenge = f'DPoP algs="{" ".join(ALGS)}"'

    def nonce_required(self, *, resource: bool) -> bool:
        return self.nonce_mode == "always" or (self.nonce_mode == "token" and not resource)

    def url(self, path: str) -> str:
        """The URL a request to ``path`` (as the server received it, the issuer's path included) was sent to: the
        issuer's origin, never the request's Host."""
        return self.origin + path

    def check(self, proof: str, method: str, path: str, *, access_token: str | None = None,
              resource: bool = False) -> Proof:
        """§4.3's checks of ``proof`` for a request of ``method`` to ``path``; ``access_token``: the token it comes
        with at a resource (§4.3 item 12, ath); ``resource``: whether this is a resource rather than the token
        endpoint (which nonce rule applies). The jti's single use is the caller's (module docstring)."""
        if len(proof) > MAX_PROOF:
            raise errors.InvalidDpopProof("The DPoP proof is too large.")
        segments = proof.split(".")
        if len(segments) != 3 or not all(segments[:2]):
            raise errors.InvalidDpopProof("The DPoP proof is not a compact JWS.")
        head, body, signature = segments
        header = _header(head)
        try:
            sig = urlsafe_b64decode(signature.encode("ascii"))
            ok = header.alg.verify(f"{head}.{body}".encode("ascii"), sig, header.key)
        except (ValueError, UnicodeEncodeError, JoseError):
            ok = False
        if not ok:
            raise errors.InvalidDpopProof("The DPoP proof's signature does not verify.")
        claims = _json_object(body, "claims are")
        jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI:
            raise errors.InvalidDpopProof("The DPoP proof needs a jti.")
        if htm != method:
            raise errors.InvalidDpopProof("The DPoP proof's htm is not this request's method.")
        if not isinstance(htu, str) or _htu(htu) != _htu(self.url(path)):
            raise errors.InvalidDpopProof("The DPoP proof's htu is not this request's URL.")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise errors.InvalidDpopProof("The DPoP proof needs an iat.")
        t = self._clock()
        if not t - IAT_PAST <= iat <= t + IAT_AHEAD:
            raise errors.InvalidDpopProof("The DPoP proof's iat is outside the accepted window.")
        if access_token is not None:
            given = claims.get("ath")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), ath(access_token).encode()):
                raise errors.InvalidDpopProof("The DPoP proof's ath does not match the access token.")
        nonce = claims.get("nonce")
        if nonce is None:
            if self.nonce_required(resource=resource):
                raise errors.UseDpopNonce("This server requires a nonce in the DPoP proof.",
                                          nonce=self.nonces.current())
        elif not isinstance(nonce, str) or not self.nonces.valid(nonce):
            raise errors.UseDpopNonce("The DPoP proof's nonce is not (or no longer) valid.",
                                      nonce=self.nonces.current())
        return Proof(header.jkt, jti, int(iat))

    def at_resource(self, scheme: str, token: str, proofs: Sequence[str], method: str, path: str) -> Proof | None:
        """A resource request's proof (§7.1), checked before its token is looked up: with the DPoP scheme exactly one,
        bound to the token (ath); with the Bearer scheme none is looked at (a bound token is refused by ``bound``)."""
        if scheme != "dpop":
            return None
        value = one_proof(proofs)
        if value is None:
            raise errors.InvalidDpopProof("A DPoP proof is required with the DPoP scheme.")
        return self.check(value, method, path, access_token=token, resource=True)

    def challenge_for(self, exc: errors.OAuthError | None, extra: str = "") -> str:
        """§7.1: the WWW-Authenticate challenge of the DPoP scheme, with the error (and its description) when there
        is one, the algorithms accepted, and ``extra`` parameters (a resource's RFC 9728 metadata)."""
        parts = ['DPoP realm="hospes"']
        if exc is not None:
            parts.append(f'error="{exc.error}"')
            if exc.description:
                parts.append(f'error_description="{errors.description_text(exc.description)}"')
        parts.append(f'algs="{" ".join(self.algs)}"')
        if extra:
            parts.append(extra)
        return ", ".join(parts)


def uses_dpop(scheme: str | None, exc: errors.OAuthError | None) -> bool:
    """Whether a resource's 401/403 answer challenges with the DPoP scheme (§7.1): the request used it, or its
    error is one of DPoP's own."""
    return scheme == "dpop" or isinstance(exc, errors.InvalidDpopProof | errors.UseDpopNonce)


async def admit(provider: Provider, scheme: str, token_jkt: str | None, proof: Proof | None) -> None:
    """A resource's last step with a live token (§7): its binding (``bound``), then the proof's jti once
    (``remember``; a bearer request writes nothing)."""
    bound(scheme, token_jkt, proof)
    if proof is not None:
        await remember(provider, proof)


def replayed() -> errors.InvalidDpopProof:
    return errors.InvalidDpopProof("The DPoP proof has been used before (its jti).")


def expiry(proof: Proof) -> datetime:
    """Until when seen_jtis keeps the proof's jti."""
    return datetime.fromtimestamp(proof.remember_until, UTC)


async def remember(provider: Provider, proof: Proof) -> None:
    """§11.1: the proof's jti is used once within its window, on every node (store/replay.py); a replay is
    invalid_dpop_proof. A resource request is a read, so this is its one write: on PostgreSQL a single statement in
    autocommit on the event loop's connections (no transaction around it); on SQLite through the writer, whose group
    commit shares one fsync among the requests waiting."""
    at, until = now(), expiry(proof)

    async def unit(tx: Tx) -> bool:
        return await replay.first_use(tx, replay.DPOP_PROOF, proof.replay_digest, until, at=at)

    if provider.db.pg is not None:
        async with provider.lookups.reading() as tx:
            first = await unit(tx)
    else:
        first = await provider.db.writer.run(unit)
    if not first:
        raise replayed()


async def remember_in(tx: Tx, proof: Proof) -> None:
    """``remember`` inside a unit of work the request runs anyway (the token endpoint's)."""
    if not await replay.first_use(tx, replay.DPOP_PROOF, proof.replay_digest, expiry(proof), at=now()):
        raise replayed()
