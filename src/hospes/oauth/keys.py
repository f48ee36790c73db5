"""Signing keys and the JWKS (RFC 7517), with rotation.

Keys live in the database so every node signs with the same ones. A node caches them and
re-reads at most every ``HOSPES_KEY_RELOAD_SECONDS``, so ``hospes keys rotate`` reaches running servers.
A retired key signs nothing more but stays published until every token it signed has expired.

The private keys are sealed at rest under the secret key (sealing.py: AES-256-GCM, bound to the key's kid),
as the TOTP secrets are: a copy of the database alone cannot sign. Rows written before that, which hold the
JWK in the clear, are sealed by ``ensure`` at the next start. A node caches each key it has opened by kid,
so a reload opens and imports only keys it has not seen.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import or_, select

from hospes.clock import now, utc
from hospes.config import DEFAULT_KEY_RELOAD_SECONDS
from hospes.sealing import Sealer
from hospes.secrets import short_id
from hospes.store.db import Database
from hospes.store.models import SigningKey

SUPPORTED_ALGS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"


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


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    created_at: str
    retired_at: str | None
    unpublish_at: str | None
    active: bool
    published: bool = True  # in the JWKS: active, or retired but not yet past unpublish_at


class KeyRing:
    def __init__(self, db: Database, retire_after: int, *, secret_key: bytes,
                 reload_seconds: float = DEFAULT_KEY_RELOAD_SECONDS) -> None:
        self.db = db
        self._vault = _Vault(secret_key)
        # Keys already opened, by kid: a key's material never changes once written.
        self._opened: dict[str, Key] = {}
        # How long a retired key stays published: the longest life of anything it signed.
        self.retire_after = retire_after
        # How long the cached keys are trusted (Settings.key_reload_seconds).
        self.reload_seconds = reload_seconds
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._active: dict[str, Key] = {}
        self._published = KeySet([])
        self._jwks_json = b'{"keys":[]}'

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> None:
        # read(): this runs inside other transactions (signing during a token request); a second
        # BEGIN IMMEDIATE there would wait on this thread's own write lock until busy_timeout.
        with self.db.read() as s:
            rows = s.scalars(
                select(SigningKey).where(or_(SigningKey.unpublish_at.is_(None), SigningKey.unpublish_at > now()))
                .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
            ).all()
        active: dict[str, Key] = {}
        published: list[Any] = []
        opened: dict[str, Key] = {}
        for row in rows:
            key = self._opened.get(row.kid) or self._vault.open(row.kid, row.private_jwk)
            opened[row.kid] = key
            published.append(key)
            if row.retired_at is None and row.alg not in active:
                active[row.alg] = key
        self._opened = opened
        self._active = active
        self._published = KeySet(published)
        public = {"keys": [k.as_dict(private=False) for k in published]}
        self._jwks_json = json.dumps(public, separators=(",", ":")).encode()
        self._loaded_at = time.monotonic()

    def is_fresh(self) -> bool:
        """True while the cached key set needs no reload: reading it then touches no database."""
        return time.monotonic() - self._loaded_at <= self.reload_seconds

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > self.reload_seconds:
            # While another thread reloads, the cached keys serve: a database that hangs must not queue every
            # request behind one reload (each would then wait its own deadline in turn).
            if not self._lock.acquire(blocking=not self._loaded_at):
                return
            try:
                if time.monotonic() - self._loaded_at > self.reload_seconds:
                    self._load()
            finally:
                self._lock.release()

    def refresh_if_stale(self) -> None:
        """Reload the keys when the cache is due. Call it before a write transaction, not inside one:
        a reload there would need a second pooled connection while holding the first."""
        self._fresh()

    def signing_key(self, alg: str = DEFAULT_ALG) -> Key:
        # Signing happens inside the token transaction: it uses the cache (see refresh_if_stale),
        # touching the database only on first use.
        if not self._loaded_at:
            self._fresh()
        try:
            return self._active[alg]
        except KeyError:
            raise RuntimeError(f"no active {alg} signing key; run `hospes keys rotate`") from None

    def verification_keys(self) -> KeySet:
        self._fresh()
        return self._published

    def jwks_json(self) -> bytes:
        self._fresh()
        return self._jwks_json

    def refresh(self) -> None:
        with self._lock:
            self._load()

    # -- writing -------------------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Create an active key for each supported algorithm that has none. Returns new kids."""
        created = []
        with self.db.transaction() as s:
            self._seal_clear_rows(s)
            have = set(s.scalars(select(SigningKey.alg).where(SigningKey.retired_at.is_(None))).all())
            for alg in SUPPORTED_ALGS:
                if alg not in have:
                    key = _generate(alg)
                    s.add(SigningKey(kid=key.kid, alg=alg, private_jwk=self._vault.seal(key), created_at=now()))
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

    def rotate(self) -> list[str]:
        """New keys sign from now on; the old ones stay published until what they signed expires."""
        # Under another secret key the keys do not open: refuse before retiring anything (``KeysUnreadable``).
        self.refresh()
        with self.db.transaction() as s:
            t = now()
            for row in s.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
                row.retired_at = t
                row.unpublish_at = t + timedelta(seconds=self.retire_after)
        return self.ensure()

    def list(self) -> list[KeyInfo]:
        with self.db.transaction() as s:
            rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            t = now()
            return [
                KeyInfo(
                    kid=r.kid, alg=r.alg, created_at=utc(r.created_at).isoformat(),
                    retired_at=utc(r.retired_at).isoformat() if r.retired_at else None,
                    unpublish_at=utc(r.unpublish_at).isoformat() if r.unpublish_at else None,
                    active=r.retired_at is None and (r.unpublish_at is None or utc(r.unpublish_at) > t),
                    published=r.unpublish_at is None or utc(r.unpublish_at) > t,
                )
                for r in rows
            ]
