"""An invited user sees in the client area what the owner allowed (WHMCS's user permissions: products,
domains, invoices, tickets), the same rule the customer API applies (accounts/reach.py); an owner sees all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clientarea import add_domain, add_invoice, add_ticket, invite, login, soup

PAGES = {
    "products": "/clientarea.php?action=services",
    "domains": "/clientarea.php?action=domains",
    "invoices": "/clientarea.php?action=invoices",
    "tickets": "/supporttickets.php",
}


@pytest.fixture
def filled(db: Any, make_account: Any, make_service: Any) -> dict[str, Any]:
    owner = make_account()
    return {"owner": owner, "service": make_service(owner.client_id, "Secret Hosting"),
            "domain": add_domain(db, owner.client_id, "secret-domain.example"),
            "invoice": add_invoice(db, owner.client_id, "99.00"),
            "ticket": add_ticket(db, owner.client_id, "Secret ticket")}


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
    counts = soup(client.get("/clientarea.php").text).find("ul", class_="ca-counts").get_text(" ", strip=True)
    shown = {"products": "1 Services", "domains": "1 Domains", "invoices": "1 Unpaid invoices",
             "tickets": "1 Open tickets"}
    assert counts == shown[permission]


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


def test_the_owner_sees_everything(client: Any, filled: dict[str, Any]) -> None:
    login(client, filled["owner"])
    for path in PAGES.values():
        assert client.get(path).status_code == 200, path
