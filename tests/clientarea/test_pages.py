"""The client-area pages as the logged-in customer sees them: what the database holds shows, other
customers' ids answer 404 and show nothing, anyone not logged in goes to the login page and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from hospes.accounts import service
from hospes.accounts.service import add_client_for_user
from hospes.config import load_settings
from hospes.sso import tokens
from hospes.store.models import ClientAccount, User
from tests.clientarea import (
    add_domain,
    add_email,
    add_invoice,
    add_ticket,
    assert_accessible,
    invite,
    links,
    login,
    soup,
)

PAGES = [
    "/clientarea.php",
    "/clientarea.php?action=details",
    "/clientarea.php?action=services",
    "/clientarea.php?action=domains",
    "/clientarea.php?action=invoices",
    "/clientarea.php?action=emails",
    "/supporttickets.php",
    "/submitticket.php",
    "/account/sso",
    "/account/users",
]


@pytest.fixture
def jane(make_account: Any) -> Any:
    return make_account(first_name="Jane", last_name="Doe", company="Doe Widgets")


@pytest.fixture
def filled(db: Any, jane: Any, make_service: Any, make_account: Any) -> dict[str, Any]:
    """Jane's account with one of everything, and a stranger's account beside it."""
    other = make_account(first_name="Olga", last_name="Other")
    return {
        "service": make_service(jane.client_id, "Premium Hosting", domain="jane.example", username="janeuser"),
        "domain": add_domain(db, jane.client_id, "jane-domain.example"),
        "invoice": add_invoice(db, jane.client_id, "42.50"),
        "ticket": add_ticket(db, jane.client_id, "My site is slow"),
        "email": add_email(db, jane.client_id, "Welcome to Hospes", body="Your login details follow.",
                           to=jane.email),
        "other": other,
        "other_service": make_service(other.client_id, "Secret Olga Hosting", domain="olga.example"),
        "other_domain": add_domain(db, other.client_id, "olga-domain.example"),
        "other_invoice": add_invoice(db, other.client_id, "999.99"),
        "other_ticket": add_ticket(db, other.client_id, "Olga's private ticket"),
        "other_email": add_email(db, other.client_id, "Olga's private mail"),
    }


def test_not_logged_in_goes_to_the_login_page_carrying_the_page(client, jane, make_service):
    service = make_service(jane.client_id)
    for path in PAGES + [f"/clientarea.php?action=productdetails&id={service}"]:
        for method in ("GET", "POST"):
            if method == "POST" and path not in ("/submitticket.php", "/account/sso", "/account/users"):
                continue
            r = client.request(method, path, data={"subject": "x", "message": "y"} if method == "POST" else None)
            assert r.status_code == 303, (method, path)
            where = urlsplit(r.headers["location"])
            assert where.path == "/login" and not where.netloc
            assert parse_qs(where.query)["next"] == [path]
            login_page = client.get(r.headers["location"])
            assert login_page.status_code == 200 and 'name="password"' in login_page.text
            assert soup(login_page.text).find("input", attrs={"name": "next"})["value"] == path


def test_login_from_the_redirect_comes_back_to_the_page(client, jane, make_service):
    service = make_service(jane.client_id, "Premium Hosting")
    path = f"/clientarea.php?action=productdetails&id={service}"
    r = client.get(path)
    page = client.get(r.headers["location"])
    f = {i["name"]: i.get("value", "") for i in soup(page.text).find_all("input") if i.get("name")}
    r = client.post("/login", data={**f, "username": jane.email, "password": jane.password})
    assert r.status_code == 303 and r.headers["location"] == path
    assert "Premium Hosting" in client.get(path).text


def test_every_page_is_accessible_and_carries_the_layout(client, jane, filled):
    login(client, jane)
    details = [f"/clientarea.php?action=productdetails&id={filled['service']}",
               f"/clientarea.php?action=domaindetails&id={filled['domain']}"]
    for path in PAGES + details:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        page = assert_accessible(r.text)
        nav = {a.get_text(strip=True): a["href"] for n in page.find_all("nav") for a in n.find_all("a")}
        for label in ("Home", "My details", "Services", "Domains", "Invoices", "Support tickets", "Open a ticket",
                      "Email history", "Connected applications", "Security settings", "Sessions",
                      "Change password"):
            assert label in nav, (path, label, nav)
        current = [a.get_text(strip=True) for n in page.find_all("nav")
                   for a in n.find_all("a", attrs={"aria-current": "page"})]
        assert len(current) == 1, (path, current)
        assert "Olga" not in r.text and "Secret" not in r.text, path


def test_home_greets_counts_and_links_every_section(client, jane, filled, db):
    add_invoice(db, jane.client_id, "10.00", status="Paid")
    login(client, jane)
    r = client.get("/clientarea.php")
    assert "Welcome back, Jane" in r.text
    page = soup(r.text)
    counts = {li.get_text(" ", strip=True) for li in page.select(".ca-counts li")}
    assert counts == {"1 Services", "1 Domains", "1 Unpaid invoices", "1 Open tickets"}
    found = links(r.text)
    assert found["Connected applications"] == "/account/applications"
    assert found["Security settings"] == "/account/security"
    assert found["Sessions"] == "/account/sessions"
    assert found["Change password"] == "/account/password"
    assert found["Single Sign-On"] == "/account/sso"
    assert found["Users and permissions"] == "/account/users"
    assert found["My details"] == "/clientarea.php?action=details"
    assert found["Email history"] == "/clientarea.php?action=emails"
    # No external client area configured: no links off the issuer.
    assert not any("://" in href for href in found.values()), found


@pytest.fixture
def external_client(database_url: str, tmp_path: Any, db: Any) -> Iterator[TestClient]:
    from hospes.app import create_app

    settings = load_settings(database_url=database_url, var_dir=str(tmp_path / "var"),
                             secret_key="test-secret-key-" + "x" * 32,
                             external_clientarea_url="https://billing.example.com/whmcs/")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        yield c


def test_home_links_the_external_client_area_when_set(external_client, jane):
    login(external_client, jane)
    found = links(external_client.get("/clientarea.php").text)
    assert found["Order new services"] == "https://billing.example.com/whmcs/cart.php"
    assert found["Knowledgebase"] == "https://billing.example.com/whmcs/knowledgebase.php"
    assert found["Register a new domain"] == "https://billing.example.com/whmcs/cart.php?a=add&domain=register"
    assert found["Network status"] == "https://billing.example.com/whmcs/serverstatus.php"
    assert found["Manage billing information"] == "https://billing.example.com/whmcs/clientarea.php?action=creditcard"
    # The pages Hospes renders stay on the issuer.
    assert found["Services"] == "/clientarea.php?action=services"


def test_details_show_the_user_and_the_account(client, jane):
    login(client, jane)
    r = client.get("/clientarea.php?action=details")
    assert r.status_code == 200
    text = soup(r.text).get_text(" ", strip=True)
    for want in ("Jane Doe", jane.email, "Doe Widgets", f"Client ID {jane.client_id}", "Owner", "Active",
                 "Single Sign-On Allowed"):
        assert want in text, want


def test_services_list_and_service_details(client, jane, filled):
    login(client, jane)
    r = client.get("/clientarea.php?action=services")
    assert "Premium Hosting" in r.text and "jane.example" in r.text
    href = links(r.text)["Premium Hosting"]
    assert href == f"/clientarea.php?action=productdetails&id={filled['service']}"
    detail = client.get(href)
    assert detail.status_code == 200
    text = soup(detail.text).get_text(" ", strip=True)
    assert "Premium Hosting" in text and "jane.example" in text and "janeuser" in text
    assert soup(detail.text).h1.get_text(strip=True) == "Premium Hosting"
    assert client.get("/clientarea.php?action=products").status_code == 200  # WHMCS's older name


def test_domains_list_and_domain_details(client, jane, filled):
    login(client, jane)
    r = client.get("/clientarea.php?action=domains")
    href = links(r.text)["jane-domain.example"]
    assert href == f"/clientarea.php?action=domaindetails&id={filled['domain']}"
    detail = client.get(href)
    assert detail.status_code == 200 and soup(detail.text).h1.get_text(strip=True) == "jane-domain.example"


def test_a_domains_expiry_and_an_invoices_currency_and_due_date_are_shown(client, db, jane):
    with db.transaction() as s:
        domain_id = service.add_domain(s, client_id=jane.client_id, domain="expiring.example",
                                       expires_on=date(2027, 3, 1))
        service.add_invoice(s, client_id=jane.client_id, total="19.90", currency="EUR", due_on=date(2026, 12, 31))
    login(client, jane)
    row = soup(client.get("/clientarea.php?action=domains").text).find("th", string="expiring.example").parent
    assert "2027-03-01" in row.get_text(" ")
    detail = soup(client.get(f"/clientarea.php?action=domaindetails&id={domain_id}").text).get_text(" ", strip=True)
    assert "Expires 2027-03-01" in detail
    invoices = soup(client.get("/clientarea.php?action=invoices").text).get_text(" ", strip=True)
    assert "2026-12-31" in invoices and "19.90 EUR" in invoices


def test_invoices_tickets_and_emails_show_the_accounts_rows(client, jane, filled):
    login(client, jane)
    invoices = client.get("/clientarea.php?action=invoices").text
    assert f"#{filled['invoice']}" in invoices and "42.50" in invoices and "Unpaid" in invoices
    tickets = client.get("/supporttickets.php").text
    assert "My site is slow" in tickets and f"#{filled['ticket']}" in tickets
    emails = client.get("/clientarea.php?action=emails").text
    assert "Welcome to Hospes" in emails and "Your login details follow." in emails and "2024-05-01" in emails


@pytest.mark.parametrize("kind", ["productdetails", "domaindetails"])
def test_another_customers_ids_answer_404_and_show_nothing(client, jane, filled, kind):
    login(client, jane)
    other = filled["other_service"] if kind == "productdetails" else filled["other_domain"]
    own = filled["service"] if kind == "productdetails" else filled["domain"]
    for bad in (str(other), "999999", "0", "-1", "abc", "", "99999999999999999999", f"{own}x"):
        r = client.get(f"/clientarea.php?action={kind}&id={bad}")
        assert r.status_code == 404, bad
        assert "Olga" not in r.text and "olga" not in r.text
    assert client.get(f"/clientarea.php?action={kind}").status_code == 404
    assert client.get(f"/clientarea.php?action={kind}&id={own}").status_code == 200


def test_unknown_action_is_404(client, jane):
    login(client, jane)
    assert client.get("/clientarea.php?action=nonsense").status_code == 404


def test_foreign_or_bogus_client_parameter_is_404(client, jane, filled):
    login(client, jane)
    for bad in (str(filled["other"].client_id), "999999", "x", ""):
        for path in ("/clientarea.php?action=services&client=", "/supporttickets.php?client=",
                     "/account/sso?client="):
            r = client.get(path + bad)
            assert r.status_code == 404, (path, bad)
            assert "Olga" not in r.text and "Secret" not in r.text


def test_a_user_with_several_accounts_chooses_one_in_the_url(client, db, settings, jane, make_service):
    with db.transaction() as s:
        second = add_client_for_user(s, owner_user_id=jane.user_id, company="Second Shop")
    make_service(jane.client_id, "First Account Hosting")
    second_service = make_service(second, "Second Account Hosting")
    login(client, jane)
    # Default: the first account owned.
    first = client.get("/clientarea.php?action=services").text
    assert "First Account Hosting" in first and "Second Account Hosting" not in first
    r = client.get(f"/clientarea.php?action=services&client={second}")
    assert "Second Account Hosting" in r.text and "First Account Hosting" not in r.text
    # Links on that page keep the account chosen.
    found = links(r.text)
    assert found["Domains"] == f"/clientarea.php?action=domains&client={second}"
    assert found["Second Account Hosting"].endswith(f"&client={second}&id={second_service}")
    page = soup(r.text)
    chooser = page.find("select", attrs={"name": "client"})
    assert {o["value"] for o in chooser.find_all("option")} == {str(jane.client_id), str(second)}
    assert chooser.find("option", selected=True)["value"] == str(second)
    # A service's page shows the account it belongs to, whichever is in the URL.
    detail = client.get(f"/clientarea.php?action=productdetails&id={second_service}")
    assert detail.status_code == 200 and "Second Account Hosting" in detail.text
    assert soup(detail.text).find("select", attrs={"name": "client"}).find("option", selected=True)["value"] == \
        str(second)
    # Single sign-on into the second account lands on that account's page, not the default one.
    with db.transaction() as s:
        minted = tokens.mint(s, settings, client=s.get(ClientAccount, second), user=s.get(User, jane.user_id),
                             destination="clientarea:services")
    r = client.get(minted.redirect_url)
    assert r.status_code == 303
    assert r.headers["location"] == f"http://127.0.0.1:8000/clientarea.php?action=services&client={second}"
    landed = client.get(r.headers["location"])
    assert "Second Account Hosting" in landed.text and "First Account Hosting" not in landed.text


def test_an_invited_user_sees_the_account_but_not_the_owners_settings(client, db, jane, filled):
    ivan = invite(db, jane.client_id, ["products", "profile"])
    login(client, ivan)
    r = client.get("/clientarea.php")
    assert "Welcome back, Ivan" in r.text
    found = links(r.text)
    assert "Single Sign-On" not in found and "Users and permissions" not in found
    assert "Premium Hosting" in client.get("/clientarea.php?action=services").text
    details = soup(client.get("/clientarea.php?action=details").text).get_text(" ", strip=True)
    assert "Invited user" in details and "Jane Doe" in details


def test_logout_button_ends_the_session(client, jane):
    login(client, jane)
    page = soup(client.get("/clientarea.php").text)
    form = next(f for f in page.find_all("form") if f["action"] == "/logout")
    token = form.find("input", attrs={"name": "token"})["value"]
    r = client.post("/logout", data={"token": token})
    assert r.status_code == 200 and "logged out" in r.text
    assert client.get("/clientarea.php").status_code == 303


def test_client_area_under_an_issuer_path(database_url, tmp_path, db, jane, make_service):
    from hospes.app import create_app

    settings = load_settings(issuer="http://127.0.0.1:8000/portal", database_url=database_url,
                             var_dir=str(tmp_path / "var"), secret_key="test-secret-key-" + "x" * 32)
    service = make_service(jane.client_id, "Portal Hosting")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        path = f"/portal/clientarea.php?action=productdetails&id={service}"
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?")
        assert parse_qs(urlsplit(r.headers["location"]).query)["next"] == [path]
        login(c, jane, prefix="/portal")
        r = c.get(path)
        assert r.status_code == 200 and "Portal Hosting" in r.text
        assert links(r.text)["Services"] == "/portal/clientarea.php?action=services"
        assert all(f["action"].startswith("/portal/") for f in soup(r.text).find_all("form"))
