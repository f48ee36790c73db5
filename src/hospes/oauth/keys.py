"""Signing keys and the JWKS (RFC 7517), with rotation that never leaves a relying party without the key.

Keys live in the database so every node signs with the same ones. A node caches them and re-reads at most
every ``HOSPES_KEY_RELOAD_SECONDS``, so ``hospes keys rotate`` reaches running servers. Each row carries the
times that rule its life, so every node decides alike from its own clock, with no coordination:

- ``created_at``: in the JWKS from then on;
- ``activates_at``: signs from then on. A rotation publishes the new key at once and lets it sign only after
  ``activation_delay``: every node has served it (within ``HOSPES_KEY_RELOAD_SECONDS``), every JWKS a relying
  party fetched before that has left its cache (``HOSPES_JWKS_MAX_AGE``, the JWKS's Cache-Control max-age),
  and a second more for the commit, the answer's way to the relying party and the nodes' clocks;
- ``retired_at``: signs nothing from then on (a rotation sets it to the successor's ``activates_at``);
- ``unpublish_at``: leaves the JWKS, once every token it signed has expired.

A rotation changes the key set in one transaction, so no reload ever finds no key to sign with. A node keeps
the last key set it read: a reload that fails (the database unavailable) keeps signing and answering the JWKS
with it, and pending keys still start to sign on time, as their times are already in it.

The private keys are sealed at rest under the secret key (sealing.py: AES-256-GCM, bound to the key's kid),
as the TOTP secrets are: a copy of the database alone cannot sign. Rows written before that, which hold the
JWK in the clear, are sealed by ``ensure`` at the next start. A node caches each key it has opened by kid,
so a reload opens and imports only keys it has not seen.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import or_, select

from hospes import audit
from hospes.clock import SYSTEM, Clock, utc
from hospes.config import DEFAULT_JWKS_MAX_AGE, DEFAULT_KEY_RELOAD_SECONDS, Settings, ensure_secret_key
from hospes.sealing import Sealer
from hospes.secrets import short_id
from hospes.store.db import Database
from hospes.store.models import SigningKey

SUPPORTED_ALGS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
# Added to a rotation's wait: the commit becoming visible, the JWKS answer's way to the relying party, and the
# nodes' clocks (kept within this by NTP).
SETTLE_SECONDS = 1.0

log = logging.getLogger("hospes.keys")

Key = RSAKey | ECKey


def _generate(alg: str) -> Key:
    kid = short_id()
    params: Any = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def _import(data: dict[str, Any]) -> Key:
    if data["kty"] == "RSA":
        return RSAKey.import_key(data)
    return ECKey.import_key(data)


class KeysUnreadable(RuntimeError):
    """The stored signing keys do not open with this secret key."""


class _Vault:
    """How a private JWK is kept in ``signing_keys.private_jwk``: ``{"sealed": <base64url>}``, bound to its
    kid. A JWK in the clear (a row from before sealing) is read as it is."""

    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, b"hospes signing key encryption")

    def seal(self, key: Key) -> dict[str, str]:
        plain = json.dumps(key.as_dict(private=True), separators=(",", ":")).encode()
        blob = self._sealer.seal(plain, f"signing_key:{key.kid}".encode())
        return {"sealed": base64.urlsafe_b64encode(blob).decode()}

    def open(self, kid: str, stored: dict[str, Any]) -> Key:
        if "sealed" not in stored:
            return _import(stored)
        plain = self._sealer.open(base64.urlsafe_b64decode(stored["sealed"]), f"signing_key:{kid}".encode())
        if plain is None:
            raise KeysUnreadable(
                f"The signing key {kid} cannot be decrypted with this secret key. The database was sealed "
                "under another HOSPES_SECRET_KEY (or var/secret_key): restore the secret key that goes with it.")
        return _import(json.loads(plain))


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _epoch(dt: datetime | None) -> float:
    return math.inf if dt is None else utc(dt).timestamp()


def _grid(t: float) -> float:
    """A time on the stored times' grid (microseconds, rounded as _at rounds), so that a key retired or
    withdrawn "now" compares as such now."""
    return round(t, 6)


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    created_at: str
    activates_at: str
    retired_at: str | None
    unpublish_at: str | None
    active: bool  # signs now
    published: bool  # in the JWKS now
    state: str  # pending | active | retiring | unpublished


@dataclass(frozen=True)
class Rotation:
    """What ``rotate`` created: the new kids and when the last of them starts to sign."""

    created: list[str]
    signs_from: datetime


@dataclass(frozen=True)
class _Stored:
    """A key as read, with its times as epoch seconds (math.inf: never)."""

    kid: str
    alg: str
    key: Key
    activates: float
    retires: float
    unpublish: float


def _state(activates: float, retires: float, unpublish: float, t: float) -> str:
    if t >= unpublish:
        return "unpublished"
    if t >= retires:
        return "retiring"
    return "active" if t >= activates else "pending"


def _signer(keys: list[_Stored], t: float) -> Key:
    """The key of one algorithm that signs at ``t``: the latest activated that is not retired. Should the rows
    ever name none (a rotation writes its keys in one transaction, so they do not), signing still does not
    fail: then the latest activated, then any published key."""
    ranked = sorted(keys, key=lambda k: (k.activates <= t < k.retires, k.activates <= t, k.activates),
                    reverse=True)
    return ranked[0].key


@dataclass(frozen=True)
class _View:
    """The keys as they are at one time, until ``until`` (the next time a key activates, retires or leaves
    the JWKS): who signs, what is published, and the JWKS serialised once."""

    keys: list[_Stored]
    signers: dict[str, Key]
    published: KeySet
    jwks_json: bytes
    until: float


def _view(keys: list[_Stored], t: float) -> _View:
    t = _grid(t)
    live = [k for k in keys if t < k.unpublish]
    signers = {alg: _signer([k for k in live if k.alg == alg], t) for alg in {k.alg for k in live}}
    public = {"keys": [k.key.as_dict(private=False) for k in live]}
    # A microsecond early, as the clock's raw reading is compared with it (_current).
    until = min((b for k in keys for b in (k.activates, k.retires, k.unpublish) if b > t), default=math.inf) - 1e-6
    return _View(keys, signers, KeySet([k.key for k in live]),
                 json.dumps(public, separators=(",", ":")).encode(), until)


_EMPTY = _View([], {}, KeySet([]), b'{"keys":[]}', math.inf)


class KeyRing:
    def __init__(self, db: Database, retire_after: int, *, secret_key: bytes,
                 reload_seconds: float = DEFAULT_KEY_RELOAD_SECONDS, jwks_max_age: int = DEFAULT_JWKS_MAX_AGE,
                 clock: Clock = SYSTEM) -> None:
        self.db = db
        self._vault = _Vault(secret_key)
        # Keys already opened, by kid: a key's material never changes once written.
        self._opened: dict[str, Key] = {}
        # How long a retired key stays published: the longest life of anything it signed.
        self.retire_after = retire_after
        # How long the cached keys are trusted (Settings.key_reload_seconds).
        self.reload_seconds = reload_seconds
        # How long a relying party may keep the JWKS (Settings.jwks_max_age).
        self.jwks_max_age = jwks_max_age
        # Bound once: for the system clock these are time.time and time.monotonic themselves (hot paths).
        self._time = clock.time
        self._monotonic = clock.monotonic
        self._lock = threading.Lock()  # one reload at a time
        self._swap = threading.Lock()  # one change of the view at a time
        self._loaded = False
        self._loaded_at = -math.inf  # monotonic, taken before the read
        self._failing = False
        self._view = _EMPTY

    @classmethod
    def for_settings(cls, db: Database, s: Settings) -> KeyRing:
        # A retired key must outlive every token it signed: ID tokens, JWT access tokens (a resource server
        # verifies them with the JWKS until they expire), and the id_token_hint an RP may present at logout for
        # as long as the session it names lasts.
        return cls(db, retire_after=max(s.id_token_ttl, s.access_token_ttl, s.session_ttl),
                   secret_key=ensure_secret_key(s).encode(), reload_seconds=s.key_reload_seconds,
                   jwks_max_age=s.jwks_max_age)

    @property
    def activation_delay(self) -> float:
        """How long after a rotation the new key starts to sign. A node may answer the JWKS without it until
        ``reload_seconds`` after the commit (a reload started just before it); a relying party that fetched
        that answer keeps it ``jwks_max_age`` more; then SETTLE_SECONDS for commit, delivery and clocks."""
        return self.jwks_max_age + self.reload_seconds + SETTLE_SECONDS

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> None:
        # Taken before the read, so the keys read are at least as new as this time says.
        started = self._monotonic()
        # read(): this runs inside other transactions (signing during a token request); a second
        # BEGIN IMMEDIATE there would wait on this thread's own write lock until busy_timeout.
        with self.db.read() as s:
            t = self._time()
            rows = [
                (r.kid, r.alg, r.private_jwk, r.activates_at, r.retired_at, r.unpublish_at)
                for r in s.scalars(
                    select(SigningKey)
                    .where(or_(SigningKey.unpublish_at.is_(None), SigningKey.unpublish_at > _at(t)))
                    .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
                )
            ]
        opened: dict[str, Key] = {}
        keys: list[_Stored] = []
        for kid, alg, stored, activates, retires, unpublish in rows:
            key = self._opened.get(kid) or self._vault.open(kid, stored)
            opened[kid] = key
            keys.append(_Stored(kid, alg, key, _epoch(activates), _epoch(retires), _epoch(unpublish)))
        self._opened = opened
        view = _view(keys, self._time())
        with self._swap:
            self._view = view
        self._loaded_at = started
        self._loaded = True

    def _reload(self) -> None:
        """Read the keys again. Once a set has been read, a failure keeps it (and the next try comes after
        reload_seconds): signing and the JWKS go on with the last good set while the database is away."""
        attempt = self._monotonic()
        try:
            self._load()
        except Exception as exc:
            if not self._loaded:
                raise
            self._loaded_at = attempt
            if not self._failing:
                self._failing = True
                log.warning("signing keys not reloaded (%s); keeping the %d read before",
                            type(exc).__name__, len(self._view.keys))
            return
        if self._failing:
            self._failing = False
            log.info("signing keys reloaded again")

    def _settle(self, view: _View) -> _View:
        """The view now that a key has activated, retired or left the JWKS since ``view`` was worked out:
        from the keys held, without the database."""
        later = _view(view.keys, self._time())
        with self._swap:
            if self._view is view:  # a reload in between has the newer keys
                self._view = later
            return self._view

    @property
    def loaded(self) -> bool:
        """True once a key set has been read (a failed reload keeps it)."""
        return self._loaded

    def is_fresh(self) -> bool:
        """True while the cached key set needs no reload: reading it then touches no database."""
        return self._monotonic() - self._loaded_at <= self.reload_seconds

    def _fresh(self) -> None:
        if not self.is_fresh():
            # While another thread reloads, the cached keys serve: a database that hangs must not queue every
            # request behind one reload (each would then wait its own deadline in turn). The first load waits.
            if not self._lock.acquire(blocking=not self._loaded):
                return
            try:
                if not self.is_fresh():
                    self._reload()
            finally:
                self._lock.release()

    def refresh_if_stale(self) -> None:
        """Reload the keys when the cache is due. Call it before a write transaction, not inside one:
        a reload there would need a second pooled connection while holding the first."""
        self._fresh()

    # The three readers below run on hot paths: a few attribute reads and clock readings, nothing more.
    def signing_key(self, alg: str = DEFAULT_ALG) -> Key:
        # Signing happens inside the token transaction: it uses the cache (see refresh_if_stale),
        # touching the database only on first use.
        if not self._loaded:
            self._fresh()
        view = self._view
        if self._time() >= view.until:
            view = self._settle(view)
        try:
            return view.signers[alg]
        except KeyError:
            raise RuntimeError(f"no {alg} signing key; run `hospes keys rotate`") from None

    def verification_keys(self) -> KeySet:
        if self._monotonic() - self._loaded_at > self.reload_seconds:
            self._fresh()
        view = self._view
        if self._time() >= view.until:
            view = self._settle(view)
        return view.published

    def jwks_json(self) -> bytes:
        if self._monotonic() - self._loaded_at > self.reload_seconds:
            self._fresh()
        view = self._view
        if self._time() >= view.until:
            view = self._settle(view)
        return view.jwks_json

    def refresh(self) -> None:
        """Read the keys now; a failure raises."""
        with self._lock:
            self._load()

    # -- writing -------------------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Create a key that signs at once for each supported algorithm that has none. Returns new kids."""
        created = []
        with self.db.transaction() as s:
            self._seal_clear_rows(s)
            have = set(s.scalars(select(SigningKey.alg).where(SigningKey.retired_at.is_(None))).all())
            t = _at(self._time())
            for alg in SUPPORTED_ALGS:
                if alg not in have:
                    key = _generate(alg)
                    s.add(SigningKey(kid=key.kid, alg=alg, private_jwk=self._vault.seal(key), created_at=t,
                                     activates_at=t))
                    created.append(str(key.kid))
        # Opens every published key: ``KeysUnreadable`` here if they were sealed under another secret key (a
        # restore without its secret key must not start).
        self.refresh()
        return created

    def _seal_clear_rows(self, s: Any) -> None:
        """Seal the keys stored in the clear (written before sealing)."""
        for row in s.scalars(select(SigningKey)):
            if "sealed" not in row.private_jwk:
                row.private_jwk = self._vault.seal(_import(row.private_jwk))

    def rotate(self, *, at_once: bool = False, actor: str | None = None, ip: str = "") -> Rotation:
        """New keys for every algorithm, in one transaction with the old keys' end.

        By default the new keys are published now and sign from ``activation_delay`` on; the keys that sign
        until then stop at that moment and stay published until what they signed has expired. An algorithm
        with no key signing yet gets one that signs at once.

        ``at_once``, for a compromised key: the new keys sign now and every key published before leaves the
        JWKS now (nodes follow within reload_seconds). ID tokens the old keys signed no longer verify, and a
        relying party still holding the old JWKS fails until it fetches it again.

        ``actor`` (the CLI, an admin) is recorded in the audit log, in the rotation's transaction."""
        # Under another secret key the keys do not open: refuse before changing anything (``KeysUnreadable``).
        self.refresh()
        # Generated before the transaction: an RSA key takes a while, and a write lock should not wait on it.
        new = [(alg, _generate(alg)) for alg in SUPPORTED_ALGS]
        with self.db.transaction() as s:
            rows = s.scalars(select(SigningKey).where(
                or_(SigningKey.unpublish_at.is_(None), SigningKey.unpublish_at > _at(self._time())))).all()
            # Read after the first statement: on SQLite the write lock is held by then.
            t = self._time()
            signing = {r.alg for r in rows if _epoch(r.retired_at) > t}  # signs now or is about to
            signs_from = t if at_once else t + self.activation_delay
            for r in rows:
                if at_once:
                    r.retired_at = _at(min(_epoch(r.retired_at), t))
                    r.unpublish_at = _at(t)
                elif _epoch(r.retired_at) > signs_from:
                    r.retired_at = _at(signs_from)
                    r.unpublish_at = _at(signs_from + self.retire_after)
            starts = []
            for alg, key in new:
                start = signs_from if alg in signing else t
                starts.append(start)
                s.add(SigningKey(kid=key.kid, alg=alg, private_jwk=self._vault.seal(key), created_at=_at(t),
                                 activates_at=_at(start)))
            audit.entry(s, actor, "keys.rotated", "signing_keys", ip=ip, created=[str(k.kid) for _, k in new],
                        signs_from=_at(max(starts)).isoformat(), at_once=at_once)
        self.refresh()
        return Rotation([str(key.kid) for _, key in new], _at(max(starts)))

    def list(self) -> list[KeyInfo]:
        with self.db.read() as s:
            rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.id)).all()
            t = _grid(self._time())
            infos = []
            for r in rows:
                state = _state(_epoch(r.activates_at), _epoch(r.retired_at), _epoch(r.unpublish_at), t)
                infos.append(KeyInfo(
                    kid=r.kid, alg=r.alg, created_at=utc(r.created_at).isoformat(),
                    activates_at=utc(r.activates_at).isoformat(),
                    retired_at=utc(r.retired_at).isoformat() if r.retired_at else None,
                    unpublish_at=utc(r.unpublish_at).isoformat() if r.unpublish_at else None,
                    active=state == "active", published=state != "unpublished", state=state,
                ))
            return infos


def sign_jwt(keys: KeyRing, claims: dict[str, Any], *, typ: str, alg: str = DEFAULT_ALG) -> str:
    """``claims`` signed by the key of ``alg`` that signs now: the one way Hospes signs a JWT (ID tokens, JWT
    access tokens). The header names the key (``kid``, RFC 7515 §4.1.4) so a verifier picks it from the JWKS,
    and the kind of token (``typ``, RFC 7515 §4.1.9; RFC 8725 §3.11), so one kind cannot pass for another."""
    key = keys.signing_key(alg)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": typ}, claims, key)
