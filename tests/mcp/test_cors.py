"""An MCP client in a browser (the MCP Inspector, an assistant in a web page) reaches the MCP server from the
origin of one of its client's redirect URIs (CORS, https://fetch.spec.whatwg.org/#http-cors-protocol): the
preflight is answered, the 401 challenge and the answers are readable there, and from no other origin."""

from __future__ import annotations

from typing import Any

from hospes.store.db import Database
from tests.mcp import issue

SPA = "https://inspector.example.com"
OTHER = "https://other.example.com"
ISSUER = "http://127.0.0.1:8000"
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "list_accounts", "arguments": {}}}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}


def test_a_browser_client_reads_the_challenge_and_the_answers_from_its_origin(
        client: Any, db: Database, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    spa = make_credential(redirect_uri=SPA + "/oauth/callback", scope="services:read")
    r = client.options("/mcp", headers={"origin": SPA, "access-control-request-method": "POST",
                                        "access-control-request-headers": "authorization, mcp-protocol-version"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SPA
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "mcp-protocol-version" in allowed
    r = client.options("/mcp", headers={"origin": OTHER, "access-control-request-method": "POST"})
    assert r.status_code == 204 and "access-control-allow-origin" not in r.headers

    # The challenge, readable: the client finds the metadata from it.
    r = client.post("/mcp", json=CALL, headers={**MCP_HEADERS, "origin": SPA})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == SPA
    assert "WWW-Authenticate" in r.headers["access-control-expose-headers"]

    token = issue(db, user_id=jane.user_id, credential_id=spa.credential_id, scope="services:read",
                  accounts=(jane.client_id,), audience=ISSUER + "/mcp")
    auth = {**MCP_HEADERS, "authorization": f"Bearer {token.value}"}
    r = client.post("/mcp", json=CALL, headers={**auth, "origin": SPA})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == SPA
    assert r.headers["cache-control"] == "no-store" and "Origin" in r.headers["vary"]
    assert r.json()["result"]["structuredContent"]["data"][0]["id"] == jane.client_id
    # Another origin is not this token's client's: the browser keeps the answer from that page.
    r = client.post("/mcp", json=CALL, headers={**auth, "origin": OTHER})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # The SDK's own answers (here, tools/list) carry the same headers.
    r = client.post("/mcp", json={"jsonrpc": "2.0", "id": 8, "method": "tools/list"}, headers={**auth, "origin": SPA})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == SPA
    assert r.headers["cache-control"] == "no-store" and len(r.json()["result"]["tools"]) == 11
