"""The audit log page: each step made by hand shows up, newest first, and the filters narrow it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bs4 import BeautifulSoup

from hospes import audit
from tests.admin import FULL, admin_session, login, make_admin, post, text_of


def _rows(html: str) -> list[list[str]]:
    table = BeautifulSoup(html, "html.parser").find("table")
    if table is None:
        return []
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]


def test_audit_log_shows_each_step_and_filters(client, db, make_account):
    make_admin(db, "mallory")
    login(client, "mallory", "not the password")
    admin_session(client, db, "root", FULL)
    r = post(client, "/admin/oauth/new", {"name": "Audited App", "redirect_uri": "https://rp.example.com/cb",
                                          "scope": "openid", "op": "save"})
    secret = text_of(r.text, "client-secret")
    cred_path = r.text.split('action="/admin/oauth/')[1].split('"')[0]
    post(client, f"/admin/oauth/{cred_path}/reset", {})
    acct = make_account()
    post(client, f"/admin/clients/{acct.client_id}", {"status": "Inactive", "allow_sso": "1"})

    page = client.get("/admin/audit")
    assert page.status_code == 200
    rows = _rows(page.text)
    actions = [row[2] for row in rows]
    # Newest first.
    assert actions[:5] == ["client.updated", "oauth_credential.secret_reset", "oauth_credential.created",
                           "admin.login", "admin.login_failed"]
    assert rows[0][1] == "admin:root" and rows[0][3] == f"client:{acct.client_id}" and rows[0][4] == "testclient"
    assert "fields: status" in rows[0][5]
    assert secret not in page.text

    # The action filter is a select of the actions the log holds.
    select = BeautifulSoup(page.text, "html.parser").find("select", id="action")
    options = [o.get("value") for o in select.find_all("option")]
    assert "" in options and "oauth_credential.created" in options and "admin.login_failed" in options
    filtered = client.get("/admin/audit?action=oauth_credential.created").text
    assert [r[2] for r in _rows(filtered)] == ["oauth_credential.created"]
    assert 'value="oauth_credential.created" selected' in filtered
    assert [r[2] for r in _rows(client.get("/admin/audit?actor=mallory").text)] == ["admin.login_failed"]
    assert [r[2] for r in _rows(client.get(f"/admin/audit?target=client:{acct.client_id}").text)] == [
        "client.updated"]


def test_date_range_and_pages(client, db):
    admin_session(client, db, "root", FULL)
    old = datetime(2020, 1, 15, 12, 0, tzinfo=UTC)
    with db.transaction() as s:
        for i in range(60):
            audit.record(s, actor="cli", action="bulk.thing", target=f"t:{i}")
        audit.record(s, actor="cli", action="old.thing", target="old")
    with db.transaction() as s:
        row = audit.search(s, action="old.thing")[0]
        row.at = old
    r = client.get("/admin/audit?from=2020-01-15&to=2020-01-15")
    assert [row[2] for row in _rows(r.text)] == ["old.thing"]
    assert _rows(client.get("/admin/audit?from=2020-01-16&to=2020-12-31").text) == []
    today = datetime.now(UTC).date()
    recent = _rows(client.get(f"/admin/audit?from={today - timedelta(days=1)}").text)
    assert "old.thing" not in [row[2] for row in recent]
    bad = client.get("/admin/audit?from=yesterday")
    assert bad.status_code == 400 and "must be a date" in bad.text
    first = client.get("/admin/audit?action=bulk.thing")
    assert len(_rows(first.text)) == 50 and "Next page" in first.text
    second = client.get("/admin/audit?action=bulk.thing&page=2")
    assert len(_rows(second.text)) == 10 and "Previous page" in second.text and "Next page" not in second.text


def test_customer_client_and_request_filters_and_the_csv_export(client, db):
    import csv
    import io

    admin_session(client, db, "root", FULL)
    with db.transaction() as s:
        audit.record(s, actor="user:7", action="user.login", target="user:7", ip="192.0.2.1")
        audit.record(s, actor="user:8", action="token.granted", target="grant:1", client_id="APP.one",
                     details={"scope": "openid"})
        audit.record(s, actor="admin:root", action="client.updated", target="user:7",
                     details={"note": 'a "quoted", comma\nand a new line'})
        audit.record(s, actor="=HYPERLINK(\"http://evil.example\")", action="x.formula", target="+1", client_id="-2",
                     details={"n": "@SUM(A1)"})
    assert [r[2] for r in _rows(client.get("/admin/audit?customer=7").text)] == ["client.updated", "user.login"]
    assert [r[2] for r in _rows(client.get("/admin/audit?customer=user:8").text)] == ["token.granted"]
    assert _rows(client.get("/admin/audit?customer=nobody@example.com").text) == []
    rows = _rows(client.get("/admin/audit?client=APP.one").text)
    assert [r[2] for r in rows] == ["token.granted"] and rows[0][6] == "APP.one"
    page = client.get("/admin/audit?action=user.login")
    # The customers' event types are offered, happened or not.
    options = [o.get("value") for o in BeautifulSoup(page.text, "html.parser").find("select", id="action")
               .find_all("option")]
    assert {"user.login_throttled", "token.refreshed", "sso.redeemed", "consent.granted"} <= set(options)
    export = BeautifulSoup(page.text, "html.parser").find("a", string="Export CSV")["href"]
    assert "format=csv" in export and "action=user.login" in export

    r = client.get("/admin/audit?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-')
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["at", "actor", "action", "target", "client_id", "ip_address", "request_id", "details"]
    by_action = {row[2]: row for row in table[1:]}
    # Formula-looking cells start with an apostrophe; quotes, commas and new lines survive the round trip.
    formula = by_action["x.formula"]
    assert formula[1] == "'=HYPERLINK(\"http://evil.example\")" and formula[3] == "'+1" and formula[4] == "'-2"
    assert json.loads(by_action["client.updated"][7]) == {"note": 'a "quoted", comma\nand a new line'}
    assert by_action["user.login"][5] == "192.0.2.1"
    # The filters apply to the export.
    only = list(csv.reader(io.StringIO(client.get("/admin/audit?format=csv&client=APP.one").text)))
    assert [row[2] for row in only[1:]] == ["token.granted"]
