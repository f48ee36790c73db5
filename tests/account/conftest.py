"""Fixtures for the account-security tests."""

from __future__ import annotations

from typing import Any

import pytest

from hospes.accounts import twofactor
from tests.account import TotpClock


@pytest.fixture
def clock(monkeypatch: Any) -> TotpClock:
    """The TOTP check reads this clock: each code a test asks for belongs to a new time step."""
    c = TotpClock()
    monkeypatch.setattr(twofactor, "epoch", c.epoch)
    return c
