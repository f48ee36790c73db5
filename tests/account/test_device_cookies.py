"""A browser that has logged in to an account before keeps its own allowance (OWASP's device cookies):
guessing from elsewhere, or from behind the same address, locks out the guessers, not the account's owner
on their own browser; and that browser's own failures count against it alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from hospes.accounts import login as accounts_login
from hospes.accounts import throttle
from tests.account import login_password
from tests.admin import login as admin_login
from tests.admin import make_admin
from tests.conftest import PASSWORD


@pytest.fixture
def other(app: Any) -> Iterator[TestClient]:
    """Another browser, from the same address as ``client``."""
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        yield c


def _guess(http: Any, acct: Any, password: str) -> int:
    return int(login_password(http, type(acct)(acct.client_id, acct.user_id, acct.email, password)).status_code)


def test_the_owners_browser_logs_in_while_the_account_is_locked_by_guessing(client, other, make_account):
    acct = make_account()
    assert login_password(client, acct).status_code == 303
    assert client.cookies.get("hospes_device")
    client.cookies.delete("hospes_session")  # logged out, the device value kept
    for _ in range(throttle.ACCOUNT.limit):
        assert _guess(other, acct, "wrong password") == 401
    assert login_password(other, acct).status_code == 429  # the guessers' browser is locked out
    assert login_password(client, acct).status_code == 303  # the owner's is not


def test_the_owners_browser_logs_in_while_its_address_is_locked(client, other, db, make_account):
    acct = make_account()
    assert login_password(client, acct).status_code == 303
    with db.transaction() as s:
        for _ in range(throttle.ADDRESS.limit):
            throttle.admit(s, [(throttle.ADDRESS, "testclient")])
    assert login_password(other, acct).status_code == 429
    assert login_password(client, acct).status_code == 303


def test_a_device_has_its_own_limit_and_does_not_lock_the_account(client, other, make_account):
    acct = make_account()
    assert login_password(client, acct).status_code == 303
    for _ in range(throttle.DEVICE.limit):
        assert _guess(client, acct, "wrong password") == 401
    r = login_password(client, acct)
    assert r.status_code == 429 and "Too many failed login attempts" in r.text
    # The account's and the address's windows saw none of it.
    assert login_password(other, acct).status_code == 303


def test_a_device_value_counts_for_its_own_login_only(client, other, make_account):
    alice, bob = make_account(), make_account()
    assert login_password(client, alice).status_code == 303
    for _ in range(throttle.ACCOUNT.limit):
        assert _guess(other, bob, "wrong password") == 401
    assert login_password(client, bob).status_code == 429  # alice's device value is not bob's


def test_a_forged_device_value_is_ignored(client, make_account):
    acct = make_account()
    for _ in range(throttle.ACCOUNT.limit):
        assert _guess(client, acct, "wrong password") == 401
    client.cookies.set("hospes_device", "forged")
    assert login_password(client, acct).status_code == 429


def test_an_admins_browser_logs_in_while_the_username_is_locked(client, other, db):
    make_admin(db, "alice")
    assert admin_login(client, "alice").status_code == 303
    assert client.cookies.get("hospes_admin_device")
    client.cookies.delete("hospes_admin")
    for _ in range(accounts_login.ADMIN_ACCOUNT.limit):
        assert admin_login(other, "alice", "wrong password!").status_code == 401
    assert admin_login(other, "alice", PASSWORD).status_code == 429
    assert admin_login(client, "alice", PASSWORD).status_code == 303
