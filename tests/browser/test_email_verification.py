"""Verifying the email address in a real browser: "Send a verification link" beside "(not verified)" on My
details, the link from the mail (sent through a real SMTP server started here), one press of "Verify my email
address"; My details then shows the address without the note. axe-core finds no serious violation on the
pages on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests import mailbox
from tests.browser.conftest import axe_serious, describe, log_in, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def server_env(smtp: tuple[Any, int]) -> dict[str, str]:
    return {"HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}"}


def test_verify_the_email_address_from_my_details(page, server, smtp, customer):
    page.goto(server.url + "/clientarea.php")
    log_in(page, customer.email, customer.password)
    page.get_by_role("navigation", name="Client area").get_by_role("link", name="My details").click()
    expect(page.get_by_text("(not verified)")).to_be_visible()
    page.get_by_role("button", name="Send a verification link").click()
    expect(page.get_by_role("status")).to_have_text(
        f"We have sent a verification link to {customer.email}. It works for 24 hours.")
    violations = {"my details": axe_serious(page)}
    screenshot(page, "email-verification-sent")

    body = mailbox.text(smtp[0].wait(1)[0])
    found = re.search(re.escape(server.url) + r"/email/verify\?token=[A-Za-z0-9_-]+", body)
    assert found, body
    page.goto(found.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify your email address")
    violations["verify"] = axe_serious(page)
    page.get_by_role("button", name="Verify my email address").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email address is verified")

    page.get_by_role("link", name="Go to the client area").click()
    page.get_by_role("navigation", name="Client area").get_by_role("link", name="My details").click()
    expect(page.get_by_text(customer.email).first).to_be_visible()
    expect(page.get_by_text("(not verified)")).to_have_count(0)
    expect(page.get_by_role("button", name="Send a verification link")).to_have_count(0)

    bad = {name: v for name, v in violations.items() if v}
    assert not bad, "\n".join(f"== {name}\n{describe(v)}" for name, v in bad.items())
