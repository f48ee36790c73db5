"""The customer API as an integrating developer calls it: bearer tokens from the code flow, lists with paging
and filters, single records, opening and answering tickets, and every refusal in RFC 6750 / RFC 9728 form."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from hospes.accounts.service import add_domain, add_invoice
from hospes.api.metadata import metadata_url
from hospes.store.models import AuditEvent, Ticket
from tests.api import second_account, token_for
from tests.clientarea import add_ticket, invite

ISSUER = "http://127.0.0.1:8000"
ALL = "openid profile email services:read domains:read invoices:read tickets:read tickets:write offline_access"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def world(client: Any, db: Any, make_account: Any, make_credential: Any, make_service: Any) -> dict[str, Any]:
    """Jane owns two accounts with records in each; a stranger has records of their own."""
    jane, stranger = make_account(first_name="Jane"), make_account()
    other = second_account(db, jane.user_id, "Other Ltd")
    ids: dict[str, Any] = {"jane": jane, "other": other, "stranger": stranger}
    ids["svc_a"] = make_service(jane.client_id, "Hosting A", domain="a.example")
    ids["svc_a2"] = make_service(jane.client_id, "Hosting A2", status="Suspended")
    ids["svc_b"] = make_service(other, "Hosting B")
    ids["svc_x"] = make_service(stranger.client_id, "Stranger Hosting")
    with db.transaction() as s:
        ids["dom_a"] = add_domain(s, client_id=jane.client_id, domain="a.example", expires_on=date(2027, 1, 2))
        ids["inv_a"] = add_invoice(s, client_id=jane.client_id, total="12.50", currency="EUR",
                                   due_on=date(2026, 12, 31))
        ids["inv_x"] = add_invoice(s, client_id=stranger.client_id, total="1.00")
    ids["tic_a"] = add_ticket(db, jane.client_id, "Ticket A")
    ids["tic_b"] = add_ticket(db, other, "Ticket B")
    ids["cred"] = make_credential(scope=ALL)
    return ids


def test_a_token_for_one_chosen_account_lists_only_that_accounts_records(client: Any, world: dict[str, Any]) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], "openid services:read", [jane.client_id])["access_token"]
    r = client.get("/api/v1/services", headers=bearer(tok))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in r.headers[
        "content-security-policy"]
    body = r.json()
    assert body["next"] is None
    assert [s["id"] for s in body["data"]] == [world["svc_a"], world["svc_a2"]]
    first = body["data"][0]
    assert first == {"id": world["svc_a"], "account_id": jane.client_id, "product": "Hosting A",
                     "domain": "a.example", "status": "Active", "created_at": first["created_at"]}
    # The other account's service, and a stranger's, look exactly like one that does not exist.
    for missing in (world["svc_b"], world["svc_x"], 999999):
        r = client.get(f"/api/v1/services/{missing}", headers=bearer(tok))
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get(f"/api/v1/services/{world['svc_a']}", headers=bearer(tok)).json()["id"] == world["svc_a"]
    accounts = client.get("/api/v1/accounts", headers=bearer(tok)).json()
    assert accounts == {"data": [{"id": jane.client_id, "company": "", "name": "Jane Doe",
                                  "status": "Active", "role": "owner",
                                  "permissions": accounts["data"][0]["permissions"]}], "next": None}
    assert "invoices" in accounts["data"][0]["permissions"]


def test_both_accounts_chosen_and_the_filters(client: Any, world: dict[str, Any]) -> None:
    jane, other = world["jane"], world["other"]
    tok = token_for(client, jane, world["cred"], "services:read", [jane.client_id, other])["access_token"]
    r = client.get("/api/v1/services", headers=bearer(tok))
    assert {s["id"] for s in r.json()["data"]} == {world["svc_a"], world["svc_a2"], world["svc_b"]}
    r = client.get(f"/api/v1/services?account_id={other}", headers=bearer(tok))
    assert [s["id"] for s in r.json()["data"]] == [world["svc_b"]]
    r = client.get("/api/v1/services?status=Suspended", headers=bearer(tok))
    assert [s["id"] for s in r.json()["data"]] == [world["svc_a2"]]
    r = client.get(f"/api/v1/services?account_id={world['stranger'].client_id}", headers=bearer(tok))
    assert r.json() == {"data": [], "next": None}


def test_paging_follows_next_to_the_end(client: Any, world: dict[str, Any], make_service: Any) -> None:
    jane = world["jane"]
    for n in range(5):
        make_service(jane.client_id, f"Extra {n}")
    tok = token_for(client, jane, world["cred"], "services:read", [jane.client_id])["access_token"]
    seen: list[int] = []
    url: str | None = "/api/v1/services?limit=3"
    pages = 0
    while url:
        body = client.get(url.removeprefix(ISSUER), headers=bearer(tok)).json()
        seen += [s["id"] for s in body["data"]]
        url = body["next"]
        pages += 1
        assert url is None or url.startswith(ISSUER + "/api/v1/services?")
    assert pages == 3 and len(seen) == 7 == len(set(seen))


def test_shapes_of_domains_invoices_tickets_and_me(client: Any, world: dict[str, Any]) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], ALL, [jane.client_id])["access_token"]
    [dom] = client.get("/api/v1/domains", headers=bearer(tok)).json()["data"]
    assert dom["domain"] == "a.example" and dom["expires_on"] == "2027-01-02" and dom["account_id"] == jane.client_id
    [inv] = client.get("/api/v1/invoices", headers=bearer(tok)).json()["data"]
    assert {k: inv[k] for k in ("id", "account_id", "status", "total", "currency", "due_on")} == {
        "id": world["inv_a"], "account_id": jane.client_id, "status": "Unpaid", "total": "12.50", "currency": "EUR",
        "due_on": "2026-12-31"}
    assert client.get(f"/api/v1/invoices/{world['inv_x']}", headers=bearer(tok)).status_code == 404
    [tic] = client.get("/api/v1/tickets?status=Open", headers=bearer(tok)).json()["data"]
    assert tic["subject"] == "Ticket A"
    detail = client.get(f"/api/v1/tickets/{tic['id']}", headers=bearer(tok)).json()
    assert detail["replies"] == [] and "message" in detail
    me = client.get("/api/v1/me", headers=bearer(tok)).json()
    assert me["email"] == jane.email and me["given_name"] == "Jane" and me["sub"]


def test_without_the_scope_insufficient_scope_names_it(client: Any, world: dict[str, Any]) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], "openid services:read", [jane.client_id])["access_token"]
    r = client.get("/api/v1/invoices", headers=bearer(tok))
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge
    assert 'scope="invoices:read"' in challenge
    assert f'resource_metadata="{metadata_url(ISSUER)}"' in challenge
    assert client.post("/api/v1/tickets", headers=bearer(tok), json={"subject": "s", "message": "m"}).status_code == 403
    # /me and /accounts need any valid token.
    assert client.get("/api/v1/me", headers=bearer(tok)).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer nope"}, {"authorization": "Basic eDp5"}])
def test_without_a_valid_token_401_names_the_metadata(client: Any, headers: dict[str, str]) -> None:
    r = client.get("/api/v1/services", headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="hospes"')
    assert f'resource_metadata="{metadata_url(ISSUER)}"' in challenge
    assert ('error="invalid_token"' in challenge) == ("nope" in str(headers))  # RFC 6750 §3.1: none without one


def test_a_token_in_the_query_is_refused(client: Any, world: dict[str, Any]) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], "services:read", [jane.client_id])["access_token"]
    r = client.get(f"/api/v1/services?access_token={tok}")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert client.get(f"/api/v1/services?access_token={tok}", headers=bearer(tok)).status_code == 400


def test_opening_a_ticket_and_replying_are_audited(client: Any, db: Any, world: dict[str, Any]) -> None:
    jane, other = world["jane"], world["other"]
    cred = world["cred"]
    tok = token_for(client, jane, cred, "tickets:read tickets:write", [other])["access_token"]
    r = client.post("/api/v1/tickets", headers=bearer(tok), json={"subject": "Help", "message": "Down again"})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["account_id"] == other and ticket["subject"] == "Help" and ticket["status"] == "Open"
    r = client.post(f"/api/v1/tickets/{ticket['id']}/replies", headers=bearer(tok), json={"message": "Still down"})
    assert r.status_code == 201 and r.json()["message"] == "Still down" and r.json()["by_you"] is True
    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=bearer(tok)).json()
    assert [x["message"] for x in detail["replies"]] == ["Still down"] and detail["status"] == "Customer-Reply"
    with db.read() as s:
        events = {e.action: e for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(["ticket.opened", "ticket.replied"])))}
        assert s.get(Ticket, ticket["id"]).client_id == other
    for action in ("ticket.opened", "ticket.replied"):
        e = events[action]
        assert e.actor == f"user:{jane.user_id}" and e.target == f"client:{other}"
        assert e.details["application"] == cred.client_id and e.details["via"] == "api"
    # An account not chosen, and a ticket there, are not found.
    r = client.post("/api/v1/tickets", headers=bearer(tok),
                    json={"subject": "x", "message": "y", "account_id": jane.client_id})
    assert r.status_code == 404
    r = client.post(f"/api/v1/tickets/{world['tic_a']}/replies", headers=bearer(tok), json={"message": "hi"})
    assert r.status_code == 404


@pytest.mark.parametrize(("body", "content_type"), [
    (b"not json", "application/json"), (b'{"subject": "a"', "application/json"), (b"[1]", "application/json"),
    (b'{"subject": "s", "message": "m"}', "text/plain"), (b'{"subject": 1, "message": "m"}', "application/json"),
    (b'{"subject": "", "message": "m"}', "application/json"),
    (b'{"subject": "s", "message": "m", "extra": 1}', "application/json"),
    (b'{"subject": "s", "message": "m", "account_id": "1"}', "application/json"),
    (b'{"subject": "a\\u0000b", "message": "m"}', "application/json"),
])
def test_a_body_that_is_not_a_ticket_is_400(client: Any, world: dict[str, Any], body: bytes,
                                            content_type: str) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], "tickets:write", [jane.client_id])["access_token"]
    r = client.post("/api/v1/tickets", headers={**bearer(tok), "content-type": content_type}, content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request" and r.json()["error_description"]


def test_several_accounts_need_account_id_to_open_a_ticket(client: Any, world: dict[str, Any]) -> None:
    jane, other = world["jane"], world["other"]
    tok = token_for(client, jane, world["cred"], "tickets:write", [jane.client_id, other])["access_token"]
    r = client.post("/api/v1/tickets", headers=bearer(tok), json={"subject": "s", "message": "m"})
    assert r.status_code == 400 and "account_id" in r.json()["error_description"]
    r = client.post("/api/v1/tickets", headers=bearer(tok), json={"subject": "s", "message": "m", "account_id": other})
    assert r.status_code == 201 and r.json()["account_id"] == other


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "page=0", "page=-1", "limit=1&limit=2",
                                   "account_id=0", "account_id=99999999999", "status=" + "x" * 40, "%ff=1"])
def test_bad_parameters_are_400(client: Any, world: dict[str, Any], query: str) -> None:
    jane = world["jane"]
    tok = token_for(client, jane, world["cred"], "services:read", [jane.client_id])["access_token"]
    r = client.get("/api/v1/services?" + query, headers=bearer(tok))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text


def test_an_invited_user_without_invoices_shows_no_invoice_whatever_the_token(
        client: Any, db: Any, world: dict[str, Any], make_credential: Any) -> None:
    jane = world["jane"]
    ivan = invite(db, jane.client_id, ["products"])
    tok = token_for(client, ivan, world["cred"], "services:read invoices:read", [jane.client_id])["access_token"]
    assert client.get("/api/v1/invoices", headers=bearer(tok)).json()["data"] == []
    assert client.get(f"/api/v1/invoices/{world['inv_a']}", headers=bearer(tok)).status_code == 404
    assert len(client.get("/api/v1/services", headers=bearer(tok)).json()["data"]) == 2
    [acct] = client.get("/api/v1/accounts", headers=bearer(tok)).json()["data"]
    assert acct["role"] == "invited" and acct["permissions"] == ["products"]
    # The owner takes products away: the same token sees no services from the next request on.
    from hospes.store.accounts import set_permissions
    with db.transaction() as s:
        set_permissions(s, jane.client_id, ivan.user_id, [])
    assert client.get("/api/v1/services", headers=bearer(tok)).json()["data"] == []


def test_refreshed_tokens_carry_the_grants_accounts(client: Any, world: dict[str, Any]) -> None:
    jane, other = world["jane"], world["other"]
    cred = world["cred"]
    first = token_for(client, jane, cred, "services:read offline_access", [other])
    r = client.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                    auth=(cred.client_id, cred.client_secret))
    tok = r.json()["access_token"]
    assert [s["id"] for s in client.get("/api/v1/services", headers=bearer(tok)).json()["data"]] == [world["svc_b"]]


def test_unknown_paths_and_methods(client: Any) -> None:
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.delete("/api/v1/services")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert client.get("/api/v1/services/abc").status_code in (401, 404)


def test_a_closed_account_is_no_longer_reached(client: Any, db: Any, world: dict[str, Any]) -> None:
    from hospes.accounts.service import close_client, get_client
    jane, other = world["jane"], world["other"]
    tok = token_for(client, jane, world["cred"], "services:read", [jane.client_id, other])["access_token"]
    with db.transaction() as s:
        close_client(s, get_client(s, other))
    ids = {s["account_id"] for s in client.get("/api/v1/services", headers=bearer(tok)).json()["data"]}
    assert ids == {jane.client_id}
    assert re.fullmatch(r"\d+", str(jane.client_id))
