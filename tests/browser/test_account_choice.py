"""The consent page's account choice in a real browser: the accounts are checkboxes a person finds by their
labels (axe finds no serious violation), choosing none says why, and the choice shows on the
connected-applications page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from hospes.accounts.service import add_client_for_user
from hospes.oauth.authorize import CHOOSE_AN_ACCOUNT
from tests.browser.conftest import (
    APP_NAME,
    Credential,
    account_settings,
    at_callback,
    authorization_url,
    axe_serious,
    cli_json,
    describe,
    log_in,
)

pytestmark = pytest.mark.browser
SCOPE = "openid services:read tickets:write"


def test_a_person_chooses_an_account_by_its_label(page: Any, server: Any, rp: Any, customer: Any, db: Any) -> None:
    with db.transaction() as s:
        other = add_client_for_user(s, owner_user_id=customer.user_id, company="Second Shop")
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", SCOPE,
                    "--name", APP_NAME, "--redirect-uri", rp.redirect_uri)
    cred = Credential(made["clientIdentifier"], made["clientSecret"], rp.redirect_uri, APP_NAME)
    page.goto(authorization_url(server, cred, SCOPE).url)
    log_in(page, customer.email, customer.password)
    box = page.get_by_label(f"Second Shop (#{other})")
    expect(box).not_to_be_checked()
    expect(page.get_by_text("127.0.0.1", exact=True)).to_be_visible()  # where the browser returns
    violations = axe_serious(page)
    assert not violations, describe(violations)

    page.get_by_role("button", name="Authorise", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(CHOOSE_AN_ACCOUNT)
    violations = axe_serious(page)
    assert not violations, describe(violations)
    page.get_by_label(f"Second Shop (#{other})").check()
    page.get_by_role("button", name="Authorise", exact=True).click()
    assert "code" in at_callback(page, rp)

    page.goto(server.url + "/clientarea.php")
    account_settings(page).get_by_role("link", name="Connected applications").click()
    expect(page.locator("li.app .app-accounts")).to_have_text(f"Second Shop (#{other})")
