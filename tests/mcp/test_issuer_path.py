"""The MCP server of an issuer with a path (http://host/tenant): at {issuer}/mcp, its metadata where RFC 9728 §3.1
puts it (the well-known suffix between the host and the resource's path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hospes.store.db import Database
from tests.aio import run
from tests.conftest import Server, start_server, stop_server
from tests.mcp import connected, issue

PATH = "/tenant"


@pytest.fixture
def server(database_url: str, tmp_path: Path, server_env: dict[str, str]) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, server_env, issuer_path=PATH)
    yield srv
    stop_server(srv)


def test_the_mcp_server_and_its_metadata_below_an_issuer_path(server: Server, db: Database, make_account: Any,
                                                              make_credential: Any, make_service: Any) -> None:
    parts = urlsplit(server.url)
    metadata_url = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{PATH}/mcp"
    r = httpx.post(server.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
    assert r.status_code == 401 and f'resource_metadata="{metadata_url}"' in r.headers["www-authenticate"]
    document = httpx.get(metadata_url, timeout=10).json()
    assert document["resource"] == server.url + "/mcp" and document["authorization_servers"] == [server.url]

    jane = make_account()
    make_service(jane.client_id, "Tenant Hosting")
    cred = make_credential(scope="services:read")
    token = issue(db, user_id=jane.user_id, credential_id=cred.credential_id, scope="services:read",
                  accounts=(jane.client_id,), audience=server.url + "/mcp")

    async def services() -> Any:
        async with connected(server.url + "/mcp", token.value) as client:
            return await client.call_tool("list_services", {})

    assert [s["product"] for s in run(services()).structured_content["data"]] == ["Tenant Hosting"]
