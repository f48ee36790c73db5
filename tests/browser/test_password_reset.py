"""Password reset through the mail, in a real browser: the server sends through a real SMTP server started
here (aiosmtpd); the customer asks for a link from the login page, opens the link from the mail, chooses a new
password and logs in with it. The link works once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests import mailbox
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a much better passphrase"


@pytest.fixture
def server_env(smtp: tuple[Any, int]) -> dict[str, str]:
    """The server sends its mail to the test's SMTP server."""
    return {"HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}"}


def test_password_reset_through_the_mail(page, server, smtp, customer):
    inbox = smtp[0]
    page.goto(server.url + "/clientarea.php")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    page.get_by_label("Email address").fill(customer.email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account exists for that address")

    mail = inbox.wait(1)[0]
    assert mail["To"] == customer.email
    body = mailbox.text(mail)
    found = re.search(re.escape(server.url) + r"/password/reset/[A-Za-z0-9_-]+", body)
    assert found, body
    link = found.group(0)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    screenshot(page, "password-reset")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your password has been changed")

    page.get_by_role("link", name="Log in").click()
    log_in(page, customer.email, customer.password)
    expect(page.get_by_role("alert")).to_have_text("Login Details Incorrect. Please try again.")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("navigation", name="Account settings")).to_be_visible()
    expect(page.get_by_text("Signed in as Jane Doe")).to_be_visible()

    # The link from the mail has done its work.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
