"""Changing the password in the client area, in a real browser: each outcome says what happened and nothing
else (a refusal never also says the password was changed; a success carries no error)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import account_settings, log_in, log_out_of_client_area, screenshot

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a much better passphrase"
CHANGED = "Your password has been changed."


def fill(page, current: str, new: str, confirm: str | None = None) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password").fill(new if confirm is None else confirm)
    page.get_by_role("button", name="Change password").click()


def test_change_password_says_only_what_happened(page, server, customer):
    page.goto(server.url + "/clientarea.php")
    log_in(page, customer.email, customer.password)
    account_settings(page).get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change password")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_count(0)

    # A wrong current password: that message, and no word of a change.
    fill(page, "not my password", NEW_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Your current password is not correct.")
    expect(page.get_by_text(CHANGED)).to_have_count(0)
    expect(page.get_by_role("status")).to_have_count(0)
    screenshot(page, "change-password-wrong-current")

    # The right current password, a new one the rules refuse.
    fill(page, customer.password, "short")
    expect(page.get_by_role("alert")).to_contain_text("at least 8 characters")
    expect(page.get_by_text(CHANGED)).to_have_count(0)
    expect(page.get_by_role("status")).to_have_count(0)

    # Success: only the success.
    fill(page, customer.password, NEW_PASSWORD)
    expect(page.get_by_role("status")).to_have_text(CHANGED)
    expect(page.get_by_role("alert")).to_have_count(0)
    screenshot(page, "change-password-done")

    # And it is the password now.
    log_out_of_client_area(page)
    page.goto(server.url + "/clientarea.php")
    log_in(page, customer.email, NEW_PASSWORD)
    expect(account_settings(page)).to_be_visible()
