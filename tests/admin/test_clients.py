"""Clients by hand: search and pages, the detail page, status and the Allow Single Sign-On switch."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import select

from hospes.clock import now
from hospes.store.models import ClientAccount, Grant, Invoice, Service
from tests.admin import CLIENTS, admin_session, audit_rows, csrf_token, post
from tests.adminapi import api_cred_fixture, api_fixture  # noqa: F401


def _client(db, client_id: int) -> ClientAccount:
    with db.transaction() as s:
        row = s.get(ClientAccount, client_id)
        assert row is not None
        return row


def _ids(html: str) -> list[int]:
    table = BeautifulSoup(html, "html.parser").find("table")
    return [int(tr.find("td").get_text()) for tr in table.find("tbody").find_all("tr")] if table else []


def test_search_by_name_email_company_and_pages(client, db, make_account):
    admin_session(client, db, permissions=CLIENTS)
    ann = make_account(email="ann@alpha.example", first_name="Ann", last_name="Archer", company="Alpha Ltd")
    bob = make_account(email="bob@beta.example", first_name="Bob", last_name="Baker", company="Beta GmbH")
    assert set(_ids(client.get("/admin/clients").text)) == {ann.client_id, bob.client_id}
    assert _ids(client.get("/admin/clients?q=archer").text) == [ann.client_id]
    assert _ids(client.get("/admin/clients?q=Ann%20Archer").text) == [ann.client_id]
    assert _ids(client.get("/admin/clients?q=BETA.example").text) == [bob.client_id]
    assert _ids(client.get("/admin/clients?q=gmbh").text) == [bob.client_id]
    assert _ids(client.get("/admin/clients?q=%25").text) == []  # a LIKE wildcard is searched for literally
    assert _ids(client.get("/admin/clients?q=nobody").text) == []
    with db.transaction() as s:  # accounts without users: quicker than hashing 26 passwords
        s.add_all([ClientAccount(company_name=f"Gamma {i}") for i in range(26)])
    first = client.get("/admin/clients?q=gamma")
    assert len(_ids(first.text)) == 25 and "28 clients" not in first.text and "26 clients found." in first.text
    assert "Page 1 of 2" in first.text and 'href="/admin/clients?q=gamma&amp;page=2"' in first.text
    second = client.get("/admin/clients?q=gamma&page=2")
    assert len(_ids(second.text)) == 1 and "Previous page" in second.text
    assert not set(_ids(first.text)) & set(_ids(second.text))


def test_detail_shows_owner_users_and_services(client, db, make_account, make_service):
    admin_session(client, db, permissions=CLIENTS)
    acct = make_account(email="carol@example.com", first_name="Carol", last_name="Cole")
    make_service(acct.client_id, product="VPS Large", domain="carol.example")
    r = client.get(f"/admin/clients/{acct.client_id}")
    assert r.status_code == 200
    assert "Carol Cole" in r.text and "carol@example.com" in r.text
    assert "VPS Large" in r.text and "carol.example" in r.text
    assert '<label for="allow_sso">Allow Single Sign-On</label>' in r.text and '<label for="status">' in r.text
    assert client.get("/admin/clients/99999").status_code == 404


def test_status_and_sso_switch_are_saved_and_audited(client, db, make_account):
    admin_session(client, db, "carl", CLIENTS)
    acct = make_account()
    url = f"/admin/clients/{acct.client_id}"
    # Unchecked checkbox: the switch goes off.
    r = post(client, url, {"status": "Inactive"})
    assert r.status_code == 303 and r.headers["location"] == url + "?done=saved"
    row = _client(db, acct.client_id)
    assert row.status == "Inactive" and row.allow_sso is False
    page = client.get(r.headers["location"]).text
    assert "Your changes were saved." in page and 'value="Inactive" selected' in page
    assert 'name="allow_sso" value="1" role="switch" checked' not in page
    r = post(client, url, {"status": "Active", "allow_sso": "1"})
    assert r.status_code == 303
    row = _client(db, acct.client_id)
    assert row.status == "Active" and row.allow_sso is True
    # Saving without a change leaves no audit row.
    post(client, url, {"status": "Active", "allow_sso": "1"})
    updated = audit_rows(db, "client.updated")
    assert [e.details["fields"] for e in updated] == [["status", "allowSingleSignOn"], ["status", "allowSingleSignOn"]]
    assert all(e.actor == "admin:carl" and e.target == f"client:{acct.client_id}" for e in updated)


def test_closing_goes_through_close_client(client, db, make_account, make_credential):
    from tests.browserless import authorize

    admin_session(client, db, permissions=CLIENTS)
    acct = make_account()
    cred = make_credential()
    url = (f"/oauth/authorize.php?response_type=code&client_id={cred.client_id}&redirect_uri={cred.redirect_uri}"
           "&scope=openid&state=s")
    assert authorize(client, url, acct.email, acct.password).status_code == 303
    r = post(client, f"/admin/clients/{acct.client_id}", {"status": "Closed", "allow_sso": "1"})
    assert r.status_code == 303
    assert _client(db, acct.client_id).status == "Closed"
    with db.transaction() as s:
        assert all(g.revoked_at is not None for g in s.scalars(select(Grant)))
    assert len(audit_rows(db, "client.closed")) == 1


def _closing_state(db, client_id: int, user_id: int) -> tuple[str, list[tuple[str, str]], list[str], list[bool]]:
    """What closing an account changes: its status, its services (product, status), its invoices' statuses,
    and whether each of its owner's grants is revoked."""
    with db.transaction() as s:
        status = s.get(ClientAccount, client_id).status
        services = [(sv.product_name, sv.status) for sv in
                    s.scalars(select(Service).where(Service.client_id == client_id).order_by(Service.id))]
        invoices = sorted(s.scalars(select(Invoice.status).where(Invoice.client_id == client_id)))
        grants = [g.revoked_at is not None for g in
                  s.scalars(select(Grant).where(Grant.user_id == user_id).order_by(Grant.id))]
    return status, services, invoices, grants


def test_closing_by_the_page_and_by_the_api_leave_the_same_state(client, db, api, make_account, make_service,
                                                                 make_credential):
    """One operation closes an account (https://developers.whmcs.com/api-reference/closeclient/), whether the
    admin page, CloseClient or UpdateClient with status Closed asks: services, invoices and grants end the same."""
    admin_session(client, db, permissions=CLIENTS)
    cred = make_credential()
    by_page, by_close, by_update = make_account(), make_account(), make_account()
    for acct in (by_page, by_close, by_update):
        for status in ("Pending", "Active", "Suspended", "Terminated"):
            make_service(acct.client_id, product=status, status=status)
        with db.transaction() as s:
            s.add_all([Invoice(client_id=acct.client_id, total="9.99", status="Unpaid"),
                       Invoice(client_id=acct.client_id, total="5.00", status="Paid"),
                       Grant(credential_id=cred.credential_id, user_id=acct.user_id, scope="openid",
                             created_at=now())])
    r = post(client, f"/admin/clients/{by_page.client_id}", {"status": "Closed", "allow_sso": "1"})
    assert r.status_code == 303
    api.ok("CloseClient", {"clientid": str(by_close.client_id)})
    api.ok("UpdateClient", {"clientid": str(by_update.client_id), "status": "Closed"})
    closed = ("Closed", [("Pending", "Cancelled"), ("Active", "Cancelled"), ("Suspended", "Cancelled"),
                         ("Terminated", "Terminated")], ["Cancelled", "Paid"], [True])
    for acct in (by_close, by_page, by_update):
        assert _closing_state(db, acct.client_id, acct.user_id) == closed
    # Each close is one audit entry, naming what it cancelled.
    rows = audit_rows(db, "client.closed")
    assert [r.target for r in rows] == [f"client:{a.client_id}" for a in (by_page, by_close, by_update)]
    assert [len(r.details["services_cancelled"]) for r in rows] == [3, 3, 3]
    assert [len(r.details["invoices_cancelled"]) for r in rows] == [1, 1, 1]


def test_bad_status_and_missing_csrf_change_nothing(client, db, make_account):
    admin_session(client, db, permissions=CLIENTS)
    acct = make_account()
    url = f"/admin/clients/{acct.client_id}"
    r = post(client, url, {"status": "Deleted"})
    assert r.status_code == 400 and "Status must be one of" in r.text
    r = client.post(url, data={"status": "Inactive", "token": csrf_token(client.get(url).text) + "x"})
    assert r.status_code == 403
    row = _client(db, acct.client_id)
    assert row.status == "Active" and row.allow_sso is True
    assert audit_rows(db, "client.updated") == []
