"""No token ever shows data of an account the person did not choose, or beyond the person's permissions: over
generated people (owner of, invited to, or a stranger to each account, with any of WHMCS's permissions),
account statuses, granted scopes and consent choices, every list and every single read of the customer API's
core (hospes.api.operations, on the real database) returns exactly what accounts/reach.py's rule allows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from hospes.accounts.service import add_domain, add_invoice
from hospes.api import errors as api_errors
from hospes.api.operations import OPERATIONS, Args, Operation, Page, check_scope, run_read
from hospes.oauth import errors
from hospes.oauth.scopes import API_SCOPES
from hospes.store.lookups import ApiTokenRow
from hospes.store.models import ClientAccount, UserClient
from hospes.store.sql import Person, drive, session_tx
from tests.clientarea import add_ticket

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ACCOUNTS = 4
KINDS = {"services": ("products", "services:read"), "domains": ("domains", "domains:read"),
         "invoices": ("invoices", "invoices:read"), "tickets": ("tickets", "tickets:read")}
PERMISSIONS = ["products", "domains", "invoices", "tickets", "emails", "sso"]

link = st.one_of(st.none(), st.just(("owner", [])),
                 st.tuples(st.just("invited"), st.lists(st.sampled_from(PERMISSIONS), unique=True)))


@pytest.fixture
def world(db: Any, make_account: Any, make_service: Any) -> dict[str, Any]:
    """Four accounts, each with one record of every kind, and a person whose links are redrawn per example."""
    owners = [make_account() for _ in range(ACCOUNTS)]
    person = make_account()
    ids = [o.client_id for o in owners]
    records: dict[str, dict[int, int]] = {kind: {} for kind in KINDS}
    for cid in ids:
        records["services"][make_service(cid, f"S{cid}")] = cid
        with db.transaction() as s:
            records["domains"][add_domain(s, client_id=cid, domain=f"d{cid}.example")] = cid
            records["invoices"][add_invoice(s, client_id=cid, total="1.00")] = cid
        records["tickets"][add_ticket(db, cid, f"T{cid}")] = cid
    with db.transaction() as s:  # the person reaches only what each example draws
        s.execute(delete(UserClient).where(UserClient.user_id == person.user_id))
    return {"ids": ids, "person": person, "records": records}


@PROPERTY
@given(data=st.data())
def test_a_token_shows_exactly_the_chosen_accounts_within_the_persons_permissions(
        db: Any, world: dict[str, Any], data: st.DataObject) -> None:
    ids, person = world["ids"], world["person"]
    links = {cid: data.draw(link, label=f"link {cid}") for cid in ids}
    closed = set(data.draw(st.lists(st.sampled_from(ids), unique=True), label="closed"))
    scopes = tuple(data.draw(st.lists(st.sampled_from(API_SCOPES), unique=True), label="scopes"))
    chosen = tuple(data.draw(st.lists(st.sampled_from(ids), unique=True), label="chosen"))
    with db.transaction() as s:
        s.execute(delete(UserClient).where(UserClient.user_id == person.user_id))
        for cid, held in links.items():
            if held is not None:
                s.add(UserClient(user_id=person.user_id, client_id=cid, role=held[0], permissions=held[1]))
            s.execute(update(ClientAccount).where(ClientAccount.id == cid)
                      .values(status="Closed" if cid in closed else "Active"))
    token = ApiTokenRow(scopes, chosen, 1, 1, "app", Person(person.user_id, "sub", person.email, True, "P", "Q",
                                                               "en", None))
    def perform(op: Operation, args: Args) -> Any:
        with db.read() as s:
            return drive(run_read(session_tx(s), op, token, args))

    def allowed(cid: int, kind: str) -> bool:
        held = links[cid]
        permission, scope = KINDS[kind]
        return (held is not None and cid in chosen and cid not in closed and scope in scopes
                and (held[0] == "owner" or permission in held[1]))

    for op in OPERATIONS:
        if op.method != "GET" or op.path in ("/me",):
            continue
        try:
            check_scope(op, scopes)
        except errors.InsufficientScope:
            assert op.scope not in scopes
            continue
        if op.path == "/accounts":
            page = perform(op, Args())
            assert isinstance(page, Page)
            assert {a["id"] for a in page.items} == {c for c in chosen if links[c] is not None and c not in closed}
            continue
        kind = op.path.split("/")[1]
        if op.is_list:
            page = perform(op, Args(query={"limit": 100}))
            assert isinstance(page, Page)
            shown = {item["id"]: item["account_id"] for item in page.items}
            expected = {rid: cid for rid, cid in world["records"][kind].items() if allowed(cid, kind)}
            assert shown == expected, (kind, links, closed, scopes, chosen)
        else:
            for rid, cid in world["records"][kind].items():
                try:
                    one = perform(op, Args(id=rid))
                except api_errors.NotFound:
                    assert not allowed(cid, kind)
                else:
                    assert allowed(cid, kind) and isinstance(one, dict) and one["account_id"] == cid
