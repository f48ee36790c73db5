"""How often a node re-reads its signing keys (HOSPES_KEY_RELOAD_SECONDS, through Settings), and how they are
kept at rest.

That the server's key ring uses the setting is shown end to end by tests/e2e/test_key_rotation.py."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt

from hospes.config import Settings, load_settings
from hospes.oauth.keys import KeyRing, KeysUnreadable
from hospes.store.db import Database

SECRET = b"test-secret-key-" + b"k" * 32


@pytest.mark.parametrize(("value", "seconds"), [
    (None, 30.0), ("0", 0.0), ("2.5", 2.5), ("soon", 30.0), ("-1", 30.0), ("", 30.0),
])
def test_key_reload_seconds_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv("HOSPES_KEY_RELOAD_SECONDS", raising=False)
    else:
        monkeypatch.setenv("HOSPES_KEY_RELOAD_SECONDS", value)
    assert load_settings().key_reload_seconds == seconds


def test_a_key_ring_trusts_its_cache_for_the_reload_seconds(db: Database):
    cached = KeyRing(db, 0, secret_key=SECRET, reload_seconds=3600.0)
    cached.ensure()
    assert cached.is_fresh() is True
    uncached = KeyRing(db, 0, secret_key=SECRET, reload_seconds=0.0)
    uncached.refresh()
    assert uncached.is_fresh() is False  # with 0, every use reads the keys again


def _stored(db: Database) -> list[dict]:
    from sqlalchemy import select

    from hospes.store.models import SigningKey

    with db.read() as s:
        return [dict(r) for r in s.scalars(select(SigningKey.private_jwk)).all()]


def test_private_keys_are_sealed_at_rest(db: Database):
    ring = KeyRing(db, 0, secret_key=SECRET)
    ring.ensure()
    stored = _stored(db)
    assert len(stored) == 2 and all(set(row) == {"sealed"} for row in stored)
    # Nothing of a private JWK in the clear: not its members' names, and not the private value "d" (RFC 7518
    # §6.2.2.1, §6.3.2.1) in any form. (The sealed text is base64url, so the names are looked for in its bytes:
    # three letters such as "kty" turn up in random base64 text about once in a hundred runs.)
    blobs = [base64.urlsafe_b64decode(row["sealed"]) for row in stored]
    assert not any(b'"kty"' in blob or b'"d"' in blob for blob in blobs)
    private_values = [ring.signing_key(alg).as_dict(private=True)["d"] for alg in ("RS256", "ES256")]
    assert not any(d in row["sealed"] or base64.urlsafe_b64decode(d + "==") in blob
                   for d in private_values for row, blob in zip(stored, blobs, strict=True))
    # The published JWKS is the public half, and a token signed with the key verifies against it.
    published = json.loads(ring.jwks_json())["keys"]
    assert {k["kty"] for k in published} == {"RSA", "EC"} and all("d" not in k for k in published)
    token = jwt.encode({"alg": "RS256", "kid": ring.signing_key("RS256").kid}, {"sub": "x"},
                       ring.signing_key("RS256"))
    assert jwt.decode(token, KeyRing(db, 0, secret_key=SECRET).verification_keys()).claims == {"sub": "x"}


def test_keys_stored_in_the_clear_are_sealed_at_the_next_start(db: Database):
    from sqlalchemy import select

    from hospes.store.models import SigningKey

    ring = KeyRing(db, 0, secret_key=SECRET)
    ring.ensure()
    kid = ring.signing_key("RS256").kid
    clear = ring.signing_key("RS256").as_dict(private=True)
    with db.transaction() as s:  # as a release before sealing wrote it
        s.scalar(select(SigningKey).where(SigningKey.kid == kid)).private_jwk = clear
    again = KeyRing(db, 0, secret_key=SECRET)
    assert again.ensure() == []  # no new key: the old one is kept, only sealed
    assert all(set(row) == {"sealed"} for row in _stored(db))
    assert again.signing_key("RS256").kid == kid


def test_another_secret_key_cannot_open_them(db: Database):
    KeyRing(db, 0, secret_key=SECRET).ensure()
    with pytest.raises(KeysUnreadable, match="cannot be decrypted with this secret key"):
        KeyRing(db, 0, secret_key=b"another-secret-key-" + b"z" * 32).ensure()


def test_a_rotation_under_another_secret_key_changes_nothing(db: Database):
    ring = KeyRing(db, 0, secret_key=SECRET)
    ring.ensure()
    before = _stored(db)
    with pytest.raises(KeysUnreadable):
        KeyRing(db, 0, secret_key=b"another-secret-key-" + b"z" * 32).rotate()
    assert _stored(db) == before
    assert KeyRing(db, 0, secret_key=SECRET).list()[0].active  # the keys still sign


def test_a_retired_key_stays_published_until_the_access_tokens_it_signed_expire(db: Database, settings: Settings):
    # A resource server verifies a JWT access token with the JWKS for as long as the token lives.
    long_lived = load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                               secret_key=settings.secret_key, access_token_ttl=settings.session_ttl + 3600)
    assert KeyRing.for_settings(db, long_lived).retire_after == settings.session_ttl + 3600
