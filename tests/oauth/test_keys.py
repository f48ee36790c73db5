"""How often a node re-reads its signing keys: HOSPES_KEY_RELOAD_SECONDS, through Settings.

That the server's key ring uses the setting is shown end to end by tests/e2e/test_key_rotation.py."""

from __future__ import annotations

import pytest

from hospes.config import load_settings
from hospes.oauth.keys import KeyRing
from hospes.store.db import Database


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
    cached = KeyRing(db, 0, reload_seconds=3600.0)
    cached.ensure()
    assert cached.is_fresh() is True
    uncached = KeyRing(db, 0, reload_seconds=0.0)
    uncached.refresh()
    assert uncached.is_fresh() is False  # with 0, every use reads the keys again
