"""An invited user sees in the client area what the owner allowed (WHMCS's user permissions: products,
domains, invoices, tickets, emails, profile), the same rule the customer API applies (accounts/reach.py); the
navigation leaves out what they may not open; an owner sees all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clientarea import add_domain, add_email, add_invoice, add_ticket, invite, login, soup

PAGES = {
    "products": "/clientarea.php?action=services",
    "domains": "/clientarea.php?action=domains",
    "invoices": "/clientarea.php?action=invoices",
    "tickets": "/supporttickets.php",
    "emails": "/clientarea.php?action=emails",
}
# The client area's navigation entries each permission opens.
NAV = {"products": {"Services"}, "domains": {"Domains"}, "invoices": {"Invoices"},
       "tickets": {"Support tickets", "Open a ticket"}, "emails": {"Email history"}}
ALWAYS = {"Home", "My details"}


def nav_labels(html: str) -> set[str]:
    nav = soup(html).find("nav", attrs={"aria-label": "Client area"})
    return {a.get_text(strip=True) for a in nav.find_all("a")}


@pytest.fixture
def filled(db: Any, make_account: Any, make_service: Any) -> dict[str, Any]:
    owner = make_account()
    return {"owner": owner, "service": make_service(owner.client_id, "Secret Hosting"),
            "domain": add_domain(db, owner.client_id, "secret-domain.example"),
            "invoice": add_invoice(db, owner.client_id, "99.00"),
            "ticket": add_ticket(db, owner.client_id, "Secret ticket"),
            "email": add_email(db, owner.client_id, "Secret mail", to=owner.email)}


@pytest.mark.parametrize("permission", list(PAGES))
def test_an_invited_user_sees_only_what_they_were_allowed(client: Any, db: Any, filled: dict[str, Any],
                                                         permission: str) -> None:
    ivan = invite(db, filled["owner"].client_id, [permission])
    login(client, ivan)
    for held, path in PAGES.items():
        r = client.get(path)
        if held == permission:
            assert r.status_code == 200, path
        else:
            assert r.status_code == 403, path
            assert "Secret" not in r.text and "99.00" not in r.text
            assert "has not given you access" in r.text
    home = client.get("/clientarea.php").text
    counts = soup(home).find("ul", class_="ca-counts").get_text(" ", strip=True)
    shown = {"products": "1 Services", "domains": "1 Domains", "invoices": "1 Unpaid invoices",
             "tickets": "1 Open tickets", "emails": ""}
    assert counts == shown[permission]
    assert nav_labels(home) == ALWAYS | NAV[permission]


def test_an_invited_user_without_products_cannot_open_a_service_or_domain_page(client: Any, db: Any,
                                                                               filled: dict[str, Any]) -> None:
    ivan = invite(db, filled["owner"].client_id, ["tickets"])
    login(client, ivan)
    r = client.get(f"/clientarea.php?action=productdetails&id={filled['service']}")
    assert r.status_code == 403 and "Secret Hosting" not in r.text
    r = client.get(f"/clientarea.php?action=domaindetails&id={filled['domain']}")
    assert r.status_code == 403 and "secret-domain" not in r.text
    r = client.post("/submitticket.php", data={"subject": "x", "message": "y"})
    assert r.status_code in (200, 403)  # no CSRF token: refused before anything happens either way


def test_an_invited_user_without_tickets_cannot_open_one(client: Any, db: Any, filled: dict[str, Any]) -> None:
    ivan = invite(db, filled["owner"].client_id, ["products"])
    login(client, ivan)
    assert client.get("/submitticket.php").status_code == 403


def test_email_history_needs_the_emails_permission(client: Any, db: Any, filled: dict[str, Any]) -> None:
    without = invite(db, filled["owner"].client_id, ["products", "profile"])
    login(client, without)
    r = client.get("/clientarea.php?action=emails")
    assert r.status_code == 403 and "Secret mail" not in r.text
    assert "Email history" not in nav_labels(client.get("/clientarea.php").text)

    client.cookies.clear()
    allowed = invite(db, filled["owner"].client_id, ["emails"])
    login(client, allowed)
    r = client.get("/clientarea.php?action=emails")
    assert r.status_code == 200 and "Secret mail" in r.text
    assert "Email history" in nav_labels(r.text)


def test_the_account_details_need_the_profile_permission(client: Any, db: Any, filled: dict[str, Any]) -> None:
    owner = filled["owner"]
    without = invite(db, owner.client_id, ["products", "emails"], first_name="Ivan")
    login(client, without)
    r = client.get("/clientarea.php?action=details")
    # The person's own details, never the account's: not its owner, id, status or SSO switch.
    assert r.status_code == 200 and without.email in r.text
    account = soup(r.text).find("section", attrs={"aria-labelledby": "account-h"}).get_text(" ", strip=True)
    assert "has not given you access to its details" in account
    assert owner.email not in r.text and "Client ID" not in account and str(owner.client_id) not in account

    client.cookies.clear()
    allowed = invite(db, owner.client_id, ["profile"], first_name="Petra")
    login(client, allowed)
    r = client.get("/clientarea.php?action=details")
    account = soup(r.text).find("section", attrs={"aria-labelledby": "account-h"}).get_text(" ", strip=True)
    assert r.status_code == 200 and owner.email in account and "Invited user" in account
    assert "has not given you access" not in account


def test_the_owner_sees_everything(client: Any, filled: dict[str, Any]) -> None:
    login(client, filled["owner"])
    for path in PAGES.values():
        assert client.get(path).status_code == 200, path
    r = client.get("/clientarea.php?action=details")
    assert filled["owner"].email in r.text and "has not given you access" not in r.text
    assert nav_labels(r.text) == ALWAYS | set().union(*NAV.values())
