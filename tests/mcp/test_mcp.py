"""The MCP server as an assistant reaches it: the real server process over HTTP and the official MCP SDK's client
with a bearer token for {issuer}/mcp. It lists the tools, sees only the chosen account's services, opens a ticket
(audited), meets the scope challenge for a tool it may not use, and is refused with a customer-API token and
after the person revokes the application."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hospes.accounts.service import add_client_for_user
from hospes.store.db import Database
from hospes.store.grants import revoke_grant_in
from hospes.store.models import AuditEvent, Ticket
from tests.aio import run
from tests.mcp import Seen, connected, issue

pytestmark = pytest.mark.one_server  # the tests share one server (tests/conftest.py)

READ_AND_WRITE = "services:read tickets:read tickets:write"


@pytest.fixture
def world(server: Any, db: Database, make_account: Any, make_credential: Any, make_service: Any) -> dict[str, Any]:
    """Jane owns two accounts, each with a service; an assistant's credential; a token for {issuer}/mcp that
    reaches her first account only."""
    jane = make_account(first_name="Jane")
    with db.transaction() as s:
        other = add_client_for_user(s, owner_user_id=jane.user_id, company="Other Ltd")
    mine = make_service(jane.client_id, "Jane's Hosting", domain="jane.example")
    make_service(other, "Other Hosting")
    cred = make_credential(scope="openid " + READ_AND_WRITE, name="Desk Assistant")
    token = issue(db, user_id=jane.user_id, credential_id=cred.credential_id, scope=READ_AND_WRITE,
                  accounts=(jane.client_id,), audience=server.url + "/mcp")
    return {"jane": jane, "other": other, "service": mine, "cred": cred, "token": token}


def structured(result: Any) -> Any:
    """A tool's structured result, which its text content says too."""
    assert [c.type for c in result.content] == ["text"]
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def test_an_assistant_lists_services_and_opens_a_ticket_within_what_was_chosen(
        server: Any, db: Database, world: dict[str, Any]) -> None:
    jane, url = world["jane"], server.url + "/mcp"

    async def session() -> tuple[Any, Any, Any, Any]:
        async with connected(url, world["token"].value) as client:
            listed = await client.list_tools()
            services = await client.call_tool("list_services", {})
            opened = await client.call_tool("open_ticket", {"subject": "Site down", "message": "Since noon."})
            elsewhere = await client.call_tool("open_ticket", {"subject": "Hi", "message": "There.",
                                                               "account_id": world["other"]})
            return listed, services, opened, elsewhere

    listed, services, opened, elsewhere = run(session())
    by_name = {tool.name: tool for tool in listed.tools}
    assert {"list_services", "list_domains", "list_invoices", "list_tickets", "open_ticket", "show_ticket",
            "reply_to_ticket", "list_accounts"} <= set(by_name)
    assert by_name["open_ticket"].input_schema["required"] == ["subject", "message"]
    assert set(by_name["list_services"].input_schema["properties"]) == {"limit", "page", "status", "account_id"}
    assert "tickets:write" in (by_name["open_ticket"].description or "")
    assert by_name["list_services"].annotations.read_only_hint is True
    assert by_name["open_ticket"].annotations.read_only_hint is False

    assert not services.is_error
    assert structured(services) == {"data": [{"id": world["service"], "account_id": jane.client_id,
                                              "product": "Jane's Hosting", "domain": "jane.example",
                                              "status": "Active",
                                              "created_at": structured(services)["data"][0]["created_at"]}],
                                    "next_page": None}

    assert not opened.is_error
    ticket = structured(opened)
    assert ticket["account_id"] == jane.client_id and ticket["subject"] == "Site down" and ticket["status"] == "Open"
    # The account not chosen is beyond reach, as one that does not exist.
    assert elsewhere.is_error and structured(elsewhere)["error"] == "not_found"
    with db.read() as s:
        assert [t.subject for t in s.scalars(select(Ticket)).all()] == ["Site down"]
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.opened")).all()
    assert event.actor == f"user:{jane.user_id}" and event.target == f"client:{jane.client_id}"
    assert event.details["application"] == world["cred"].client_id


def test_a_tool_beyond_the_tokens_scope_answers_the_step_up_challenge(
        server: Any, db: Database, world: dict[str, Any]) -> None:
    seen = Seen()

    async def session() -> Any:
        async with connected(server.url + "/mcp", world["token"].value, seen) as client:
            try:
                await client.call_tool("list_invoices", {})
            except Exception as exc:  # the SDK's client turns the HTTP refusal into an error
                return exc
            return None

    assert run(session()) is not None
    status, challenge = seen.answers[-1]
    assert status == 403 and challenge is not None
    assert 'error="insufficient_scope"' in challenge and 'scope="invoices:read"' in challenge
    assert f'resource_metadata="{server_origin(server)}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_a_customer_api_token_and_a_revoked_one_are_refused(server: Any, db: Database, world: dict[str, Any]) -> None:
    jane, url = world["jane"], server.url + "/mcp"
    api_token = issue(db, user_id=jane.user_id, credential_id=world["cred"].credential_id, scope=READ_AND_WRITE,
                      accounts=(jane.client_id,), audience=None)
    seen = Seen()

    async def refused(token: str) -> None:
        with pytest.raises(Exception):  # noqa: B017, PT011 (the SDK raises its own group of errors)
            async with connected(url, token, seen) as client:
                await client.list_tools()

    run(refused(api_token.value))
    assert seen.answers[-1][0] == 401 and 'error="invalid_token"' in (seen.answers[-1][1] or "")
    # The customer API still takes it: the audience decides where a token counts.
    r = httpx.get(server.url + "/api/v1/services", headers={"authorization": f"Bearer {api_token.value}"})
    assert r.status_code == 200

    async def then_revoked() -> tuple[Any, Any]:
        async with connected(url, world["token"].value, seen) as client:
            before = await client.call_tool("list_services", {})
            with db.transaction() as s:
                revoke_grant_in(s, world["token"].grant_id)  # as "Revoke access" on the applications page
            try:
                await client.call_tool("list_services", {})
            except Exception as exc:
                return before, exc
            return before, None

    before, after = run(then_revoked())
    assert not before.is_error and after is not None
    status, challenge = seen.answers[-1]
    assert status == 401 and challenge is not None and 'error="invalid_token"' in challenge


def server_origin(server: Any) -> str:
    return server.url.split("/", 3)[0] + "//" + server.url.split("/", 3)[2]


def test_without_a_token_the_challenge_leads_to_the_metadata(server: Any, db: Database,
                                                             world: dict[str, Any]) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                             "clientInfo": {"name": "curl", "version": "1"}}}
    headers = {"accept": "application/json, text/event-stream"}
    r = httpx.post(server.url + "/mcp", json=initialize, headers=headers)
    metadata_url = f"{server_origin(server)}/.well-known/oauth-protected-resource/mcp"
    assert r.status_code == 401
    # RFC 6750 §3.1: no error code when no token was sent; RFC 9728 §5.1: where the metadata is.
    assert r.headers["www-authenticate"] == f'Bearer realm="hospes", resource_metadata="{metadata_url}"'
    expired = issue(db, user_id=world["jane"].user_id, credential_id=world["cred"].credential_id,
                    scope=READ_AND_WRITE, accounts=(world["jane"].client_id,), audience=server.url + "/mcp",
                    lifetime=timedelta(seconds=-1))
    for token in ("nope", expired.value, "x" * 600):
        r = httpx.post(server.url + "/mcp", json=initialize, headers={**headers, "authorization": f"Bearer {token}"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        assert f'resource_metadata="{metadata_url}"' in r.headers["www-authenticate"]
    r = httpx.post(server.url + "/mcp", json=initialize,
                   headers={**headers, "authorization": f"Bearer {world['token'].value}"})
    assert r.status_code == 200 and r.json()["result"]["serverInfo"]["name"] == "hospes"

    r = httpx.get(metadata_url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"resource": server.url + "/mcp", "authorization_servers": [server.url],
                        "scopes_supported": ["services:read", "domains:read", "invoices:read", "tickets:read",
                                             "tickets:write"],
                        "bearer_methods_supported": ["header"], "resource_name": "MCP server"}


def test_both_protocol_eras_answer_alike(server: Any, db: Database, world: dict[str, Any]) -> None:
    """A 2025-11-25 client (initialize, then plain tool calls, answered before the SDK) and a 2026-07-28 one
    (single requests, answered by the SDK) get the same answers, failures included."""
    url = server.url + "/mcp"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_services", {"limit": 1}), ("show_service", {"id": world["service"]}),
        ("show_service", {"id": 2**40}), ("list_services", {"limit": 0}), ("list_services", {"colour": "red"}),
        ("list_accounts", {}),
    ]

    async def answers(mode: str) -> list[Any]:
        async with connected(url, world["token"].value, mode=mode) as client:
            found = [(r.is_error, structured(r)) for r in [await client.call_tool(n, a) for n, a in calls]]
            try:
                await client.call_tool("no_such_tool", {})
            except Exception as exc:  # a protocol error (JSON-RPC -32602), not a tool's result
                found.append(str(exc))
            return found

    legacy, modern = run(answers("legacy")), run(answers("auto"))
    assert legacy == modern
    assert legacy[0] == (False, {"data": [legacy[0][1]["data"][0]], "next_page": None})
    assert legacy[1][1]["product"] == "Jane's Hosting"
    assert legacy[2] == (True, {"error": "not_found", "error_description": "No such service."})
    assert legacy[3][0] and legacy[3][1]["error"] == "invalid_request"
    assert legacy[4][0] and "colour" in legacy[4][1]["error_description"]
    assert [a["id"] for a in legacy[5][1]["data"]] == [world["jane"].client_id]
    assert "no_such_tool" in legacy[6]


def test_a_tool_call_answered_before_the_sdk_is_the_sdks_answer(server: Any, world: dict[str, Any]) -> None:
    """The same tools/call, once as a plain request (answered by Hospes) and once with a header that leaves it to
    the SDK (a session id, which a stateless server ignores; an Mcp-Param header no tool declares): the same
    JSON-RPC answer, for both protocol eras."""
    base = {"authorization": f"Bearer {world['token'].value}", "content-type": "application/json",
            "accept": "application/json, text/event-stream"}
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}
    cases = [
        ({"mcp-protocol-version": "2025-11-25"}, {"mcp-session-id": "x"}, {}),
        ({}, {"mcp-session-id": "x"}, {}),  # no version header: 2025-03-26
        ({"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "show_service"},
         {"mcp-param-colour": "red"}, {"_meta": meta}),
    ]
    for headers, to_the_sdk, extra in cases:
        for arguments in ({"id": world["service"]}, {"id": 99999}, {"id": "one"}):
            call = {"jsonrpc": "2.0", "id": "c1", "method": "tools/call",
                    "params": {"name": "show_service", "arguments": arguments, **extra}}
            plain = httpx.post(server.url + "/mcp", json=call, headers={**base, **headers}, timeout=10)
            sdk = httpx.post(server.url + "/mcp", json=call, headers={**base, **headers, **to_the_sdk}, timeout=10)
            assert plain.status_code == sdk.status_code == 200, (plain.text, sdk.text)
            assert plain.json() == sdk.json(), (headers, arguments)
            assert plain.headers["content-type"] == sdk.headers["content-type"] == "application/json"
    # A 2026-07-28 request whose routing headers disagree with its body is the SDK's to refuse.
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_services", "arguments": {}, "_meta": meta}}
    r = httpx.post(server.url + "/mcp", json=call, timeout=10,
                   headers={**base, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
                            "mcp-name": "show_service"})
    assert r.status_code == 400 and "mcp-name" in r.json()["error"]["message"]
