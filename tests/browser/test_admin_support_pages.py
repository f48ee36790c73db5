"""The admin pages for admins, signing keys, API roles, the credential form and a customer's support page:
axe-core finds no serious or critical violation at a desktop and a phone width, and the support buttons work
from a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hospes.adminapi.credentials import create_role
from tests.admin import make_admin
from tests.browser.conftest import axe_serious, describe
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_admin_support_pages_have_no_serious_axe_violation(page, server, db, customer):
    make_admin(db, "root", password=PASSWORD)
    with db.transaction() as s:
        role_id = create_role(s, name="Readers", actions=["GetClients"])
    page.goto(server.url + "/admin/login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Admin area")).to_be_visible()
    pages = ["/admin/admins", "/admin/admins/1", "/admin/admins/1/password", "/admin/keys", "/admin/keys/rotate",
             f"/admin/api/roles/{role_id}", "/admin/oauth/new", f"/admin/users/{customer.user_id}"]
    found = {}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages:
            page.goto(server.url + path)
            expect(page.locator("h1")).to_be_visible()
            found[f"{path} at {width}px"] = axe_serious(page)
    assert not any(found.values()), "\n".join(f"{k}:\n{describe(v)}" for k, v in found.items() if v)
    # A button of the support page, clicked: the notice says what happened.
    page.goto(server.url + f"/admin/users/{customer.user_id}")
    page.get_by_role("button", name="Mark the email as verified").click()
    expect(page.get_by_role("status")).to_contain_text("marked as verified")
    expect(page.locator("#customer-email")).to_contain_text("(verified)")
