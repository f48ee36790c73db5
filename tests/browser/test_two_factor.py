"""Two-factor login in a real browser: the customer turns it on in the client area's security settings (the
secret read off the page, the code computed as an authenticator app would), sees the backup codes, logs out;
the next OAuth login asks for the code after the password, and the ID token says a second factor was used."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    account_settings,
    at_callback,
    authorization_url,
    claims,
    exchange,
    log_in,
    log_out_of_client_area,
    screenshot,
    totp_code_for_next_step,
)

pytestmark = pytest.mark.browser


def not_a_valid_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + k * totp.interval) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid)


def test_enrol_in_two_factor_then_the_oauth_login_asks_for_the_code(page, server, rp, customer, credential):
    # Enrol, in the client area.
    page.goto(server.url + "/clientarea.php")
    log_in(page, customer.email, customer.password)
    account_settings(page).get_by_role("link", name="Security settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Security settings")
    expect(page.locator("#two-factor-status")).to_contain_text("Two-factor authentication is off.")
    page.get_by_role("button", name="Set up two-factor authentication").click()

    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    screenshot(page, "two-factor-setup")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication is on")
    codes = page.locator("#backup-codes li")
    expect(codes).to_have_count(10)
    assert len(set(codes.all_inner_texts())) == 10
    screenshot(page, "two-factor-backup-codes")
    page.get_by_role("link", name="I have saved my backup codes").click()
    expect(page.locator("#two-factor-status")).to_contain_text("Two-factor authentication is on.")
    expect(page.locator("#backup-codes-left")).to_have_text("You have 10 unused backup codes.")
    log_out_of_client_area(page)

    # The next OAuth login: password, then the code.
    flow = authorization_url(server, credential)
    page.goto(flow.url)
    log_in(page, customer.email, customer.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    code_field = page.get_by_label("Authentication code")
    expect(code_field).to_be_focused()
    screenshot(page, "two-factor")

    code_field.fill(not_a_valid_code(secret))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not correct")
    assert rp.callbacks == []

    page.get_by_label("Authentication code").fill(totp_code_for_next_step(secret))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("button", name="Authorise", exact=True).click()

    got = at_callback(page, rp)
    assert got["state"] == flow.state
    id_token = claims(exchange(server, credential, flow, got["code"])["id_token"])
    assert "otp" in id_token["amr"] and "pwd" in id_token["amr"]
    assert id_token["acr"] == "2"
