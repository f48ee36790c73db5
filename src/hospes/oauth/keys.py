"""Signing keys and the JWKS (RFC 7517), with rotation.

Keys live in the database so every node signs with the same ones. A node caches them and
re-reads at most every ``HOSPES_KEY_RELOAD_SECONDS``, so ``hospes keys rotate`` reaches running servers.
A retired key signs nothing more but stays published until every token it signed has expired.
"""

from __future__ import annotations

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
    def __init__(self, db: Database, retire_after: int,
                 reload_seconds: float = DEFAULT_KEY_RELOAD_SECONDS) -> None:
        self.db = db
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
        for row in rows:
            key = _import(row.private_jwk)
            published.append(key)
            if row.retired_at is None and row.alg not in active:
                active[row.alg] = key
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
            with self._lock:
                if time.monotonic() - self._loaded_at > self.reload_seconds:
                    self._load()

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
            have = set(s.scalars(select(SigningKey.alg).where(SigningKey.retired_at.is_(None))).all())
            for alg in SUPPORTED_ALGS:
                if alg not in have:
                    key = _generate(alg)
                    s.add(SigningKey(kid=key.kid, alg=alg, private_jwk=key.as_dict(private=True),
                                     created_at=now()))
                    created.append(str(key.kid))
        if created:
            self.refresh()
        return created

    def rotate(self) -> list[str]:
        """New keys sign from now on; the old ones stay published until what they signed expires."""
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
