"""Rotation by the rules of oauth/keys.py, on a clock moved by hand: a new key is published first and signs
only once no relying party can still hold a JWKS without it; the key set changes in one transaction; a reload
that fails keeps the last good set; ``rotate(at_once=True)`` withdraws a compromised key at once.

The same against real server processes: tests/e2e/test_key_rotation.py (one node) and
tests/e2e/test_rotation_under_load.py (two nodes under load)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import create_engine, text

from hospes.clock import Clock
from hospes.config import ConfigError, load_settings
from hospes.oauth.keys import SETTLE_SECONDS, KeyRing
from hospes.store.db import Database
from tests.outage import database_away

SECRET = b"test-secret-key-" + b"k" * 32
RELOAD = 30.0
MAX_AGE = 300


class HandClock(Clock):
    """Wall and monotonic time that move only when the test says so."""

    def __init__(self) -> None:
        self.t = time.time()

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def ring(db: Database, clock: Clock, reload_seconds: float = RELOAD, max_age: int = MAX_AGE) -> KeyRing:
    return KeyRing(db, 3600, secret_key=SECRET, reload_seconds=reload_seconds, jwks_max_age=max_age, clock=clock)


def kids(jwks: bytes) -> set[str]:
    return {k["kid"] for k in json.loads(jwks)["keys"]}


def states(r: KeyRing) -> dict[str, str]:
    return {k.kid: k.state for k in r.list()}


def test_the_wait_is_the_jwks_max_age_plus_the_reload_interval(db: Database):
    assert ring(db, HandClock()).activation_delay == MAX_AGE + RELOAD + SETTLE_SECONDS


def test_no_id_token_is_signed_with_a_kid_a_relying_party_could_not_have_cached(db: Database):
    """Two nodes; B read its keys just before the rotation, so it answers the old JWKS for RELOAD seconds more,
    and a relying party keeps that answer MAX_AGE seconds. Every token either node signs must carry a kid
    found in every JWKS either node answered in the MAX_AGE seconds before."""
    clock = HandClock()
    admin = ring(db, clock)
    admin.ensure()
    old = admin.signing_key("RS256").kid
    a, b = ring(db, clock), ring(db, clock)
    a.jwks_json()
    clock.advance(RELOAD / 2)
    b.jwks_json()
    clock.advance(0.01)
    rotated_at = clock.t
    rotation = admin.rotate()
    new = rotation.created[0]  # RS256 (SUPPORTED_ALGS' order)
    assert rotation.signs_from.timestamp() == pytest.approx(rotated_at + admin.activation_delay, abs=0.01)

    fetched: list[tuple[float, set[str]]] = []
    signed: list[tuple[float, str]] = []
    end = rotated_at + admin.activation_delay + 10
    clock.advance(0.25)  # never exactly on the switch (stored times have microseconds)
    while clock.t < end:
        for node in (a, b):
            fetched.append((clock.t, kids(node.jwks_json())))
            node.refresh_if_stale()  # as the token endpoint does before its transaction
            signed.append((clock.t, node.signing_key("RS256").kid))
        clock.advance(0.5)

    for s, kid in signed:
        cached = [f for f in fetched if s - MAX_AGE <= f[0] <= s]
        assert all(kid in published for _, published in cached), f"{kid} signed at {s - rotated_at:+.1f} s"
    # B really did answer without the new key after the rotation, and the old key signed until the end of
    # the wait: the rule above was put to the test.
    assert any(t > rotated_at and new not in published for t, published in fetched)
    switch = rotated_at + admin.activation_delay
    assert {kid for s, kid in signed if s < switch} == {old}
    assert {kid for s, kid in signed if s >= switch} == {new}
    # The old key stays published after it stops signing: tokens it signed keep verifying.
    assert old in kids(a.jwks_json()) and old in kids(b.jwks_json())
    assert states(admin)[old] == "retiring" and states(admin)[new] == "active"


def test_keys_list_shows_pending_active_and_retiring(db: Database):
    clock = HandClock()
    r = ring(db, clock)
    r.ensure()
    old = {k.kid for k in r.list()}
    rotation = r.rotate()
    listed = {k.kid: k for k in r.list()}
    assert {listed[k].state for k in rotation.created} == {"pending"}
    assert all(listed[k].published and not listed[k].active for k in rotation.created)
    assert {listed[k].state for k in old} == {"active"}
    assert all(datetime.fromisoformat(listed[k].retired_at or "") == rotation.signs_from for k in old)
    clock.advance(r.activation_delay)
    listed = {k.kid: k for k in r.list()}
    assert {listed[k].state for k in rotation.created} == {"active"}
    assert {listed[k].state for k in old} == {"retiring"}
    clock.advance(3600)
    assert {k.kid: k.state for k in r.list()}.keys() >= old
    assert {states(r)[k] for k in old} == {"unpublished"}
    assert old.isdisjoint(kids(r.jwks_json()))


def test_a_second_rotation_before_the_first_signs_keeps_one_signer_at_every_moment(db: Database):
    clock = HandClock()
    r = ring(db, clock, reload_seconds=0.0)
    r.ensure()
    k1 = r.signing_key().kid
    k2 = r.rotate().created[0]  # RS256 (SUPPORTED_ALGS' order)
    clock.advance(10)
    k3 = r.rotate().created[0]
    assert r.signing_key().kid == k1
    clock.advance(r.activation_delay - 10)
    assert r.signing_key().kid == k2  # the first rotation's key signs from its own time on
    clock.advance(10)
    assert r.signing_key().kid == k3
    assert {k1, k2, k3} <= kids(r.jwks_json())


def test_rotate_now_withdraws_every_old_key_at_once(db: Database):
    clock = HandClock()
    r = ring(db, clock, reload_seconds=0.0)
    r.ensure()
    old = r.signing_key()
    token = jwt.encode({"alg": "RS256", "kid": old.kid}, {"sub": "x"}, old)
    pending = r.rotate().created  # a safe rotation still waiting: withdrawn too, it lived in the same database
    rotation = r.rotate(at_once=True)
    assert rotation.signs_from.timestamp() == pytest.approx(clock.t, abs=0.01)
    assert r.signing_key().kid in rotation.created
    published = kids(r.jwks_json())
    assert published == set(rotation.created)
    assert old.kid not in published and not published & set(pending)
    # The price of a compromise: what the old key signed no longer verifies.
    with pytest.raises(JoseError):
        jwt.decode(token, r.verification_keys())
    assert {states(r)[k] for k in [old.kid, *pending]} == {"unpublished"}


def test_an_algorithm_with_no_key_gets_one_that_signs_at_once(db: Database):
    clock = HandClock()
    r = ring(db, clock, reload_seconds=0.0)
    rotation = r.rotate()  # an empty database: nothing to wait for
    assert rotation.signs_from.timestamp() == pytest.approx(clock.t, abs=0.01)
    assert r.signing_key("RS256").kid in rotation.created and r.signing_key("ES256").kid in rotation.created


def test_the_key_set_changes_in_one_transaction(db: Database):
    """A node reading the keys at any moment during rotations finds a key that signs for each algorithm."""
    r = KeyRing(db, 3600, secret_key=SECRET, reload_seconds=0.0)
    r.ensure()
    seen: list[dict[str, set[str]]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            signing: dict[str, set[str]] = {"RS256": set(), "ES256": set()}
            for k in r.list():
                if k.active:
                    signing[k.alg].add(k.kid)
            seen.append(signing)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(3):
            KeyRing(db, 3600, secret_key=SECRET, reload_seconds=0.0).rotate()
    finally:
        done.set()
        watcher.join()
    assert len(seen) > 10
    assert all(s["RS256"] and s["ES256"] for s in seen), [s for s in seen if not (s["RS256"] and s["ES256"])][:3]


def test_a_reload_that_fails_keeps_the_last_good_set(db: Database, caplog):
    r = KeyRing(db, 3600, secret_key=SECRET, reload_seconds=0.0)
    r.ensure()
    jwks, signer = r.jwks_json(), r.signing_key().kid
    caplog.set_level(logging.INFO, logger="hospes.keys")
    db.engine.dispose()  # the open connections too
    with database_away(db.url):
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises: the database is away
            KeyRing(db, 0, secret_key=SECRET).refresh()
        for _ in range(3):
            assert r.jwks_json() == jwks
            assert r.signing_key().kid == signer
            assert signer in {k.kid for k in r.verification_keys().keys}
    db.engine.dispose()  # SQLite: the connections to the empty file in its place
    # One line for the outage, not one per request; no traceback.
    assert caplog.text.count("signing keys not reloaded") == 1 and "Traceback" not in caplog.text
    rotation = KeyRing(db, 3600, secret_key=SECRET).rotate(at_once=True)
    assert kids(r.jwks_json()) == set(rotation.created)  # back: the next use reads the keys again
    assert "signing keys reloaded again" in caplog.text


def test_a_key_written_before_activation_times_signs_from_its_creation(settings):
    """Migration 0008: every existing key gets activates_at = created_at, and goes on signing."""
    from alembic import command

    from hospes.store.migrate import alembic_config

    cfg = alembic_config(settings.sqlalchemy_url)
    command.upgrade(cfg, "0006")
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES "
                       "('k1', 'RS256', :jwk, :t)"),
                  {"jwk": json.dumps({"kty": "RSA"}), "t": datetime(2026, 1, 2, 3, 4, 5)})
    command.upgrade(cfg, "head")
    with engine.connect() as c:
        created, activates = c.execute(text("SELECT created_at, activates_at FROM signing_keys")).one()
    engine.dispose()
    assert activates == created


@pytest.mark.parametrize(("value", "message"), [("-1", "from 0 to 86400"), ("86401", "from 0 to 86400"),
                                                ("soon", "HOSPES_JWKS_MAX_AGE")])
def test_jwks_max_age_is_checked(monkeypatch, value, message):
    monkeypatch.setenv("HOSPES_JWKS_MAX_AGE", value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_jwks_max_age_from_the_environment(monkeypatch):
    monkeypatch.delenv("HOSPES_JWKS_MAX_AGE", raising=False)
    assert load_settings().jwks_max_age == 300
    monkeypatch.setenv("HOSPES_JWKS_MAX_AGE", "5")
    assert load_settings().jwks_max_age == 5

