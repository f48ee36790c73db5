"""A person in a real browser, sent by a relying party through the code flow: log in, consent, back to the
application with a code (which the application exchanges for tokens); a wrong password; "Cancel" on consent."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import APP_NAME, at_callback, authorization_url, claims, exchange, log_in, screenshot

pytestmark = pytest.mark.browser

PERMISSIONS = ["Confirm who you are", "See your name and language", "See your email address"]


def test_login_and_consent_give_the_relying_party_a_code_it_exchanges_for_tokens(page, server, rp, customer,
                                                                                 credential):
    flow = authorization_url(server, credential)
    page.goto(flow.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Log in to continue to {APP_NAME}")
    screenshot(page, "login")
    log_in(page, customer.email, customer.password)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Authorise {APP_NAME} to access your account")
    expect(page.locator("ul.permissions li")).to_have_text(PERMISSIONS)
    screenshot(page, "consent")
    page.get_by_role("button", name="Authorise", exact=True).click()

    got = at_callback(page, rp)
    assert got["state"] == flow.state and got["code"]
    expect(page.get_by_role("heading", name="Back at the application")).to_be_visible()
    tokens = exchange(server, credential, flow, got["code"])
    assert tokens["token_type"].lower() == "bearer" and tokens["access_token"]
    id_token = claims(tokens["id_token"])
    assert id_token["nonce"] == flow.nonce and id_token["aud"] in (credential.client_id, [credential.client_id])
    assert id_token["amr"] == ["pwd"]


def test_a_wrong_password_shows_the_message_and_the_form_again(page, server, rp, customer, credential):
    flow = authorization_url(server, credential)
    page.goto(flow.url)
    log_in(page, customer.email, "not my password at all")

    expect(page.get_by_role("alert")).to_have_text("Login Details Incorrect. Please try again.")
    expect(page.get_by_label("Email address")).to_have_value(customer.email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    screenshot(page, "login-wrong-password")
    assert rp.callbacks == []

    # The form shown again works: the right password carries on to the consent page.
    page.get_by_label("Password", exact=True).fill(customer.password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Authorise", exact=True)).to_be_visible()


def test_cancel_on_the_consent_page_sends_access_denied_to_the_relying_party(page, server, rp, customer,
                                                                            credential):
    flow = authorization_url(server, credential)
    page.goto(flow.url)
    log_in(page, customer.email, customer.password)
    page.get_by_role("button", name="Cancel", exact=True).click()

    got = at_callback(page, rp)
    assert got["error"] == "access_denied" and got["state"] == flow.state
    assert "code" not in got
