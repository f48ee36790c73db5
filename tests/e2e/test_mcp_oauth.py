"""An AI assistant connects to a customer's account with no pre-registration: the official MCP SDK's client
with its own OAuth support (RFC 9728 discovery from the 401, RFC 8414 metadata, dynamic client registration,
PKCE, ``resource={issuer}/mcp``) against the real server, the person logging in and allowing it on the pages;
then tool calls within what was allowed, the application on the connected-applications page, and revocation
there ending it. The same for an assistant that introduces itself by a Client ID Metadata Document the test
serves over https: its first authorization fetches the document once, later ones while it is fresh not at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from hospes.oauth import scopes as scope_table
from tests import aio
from tests.browserless import authorize, form_with
from tests.conftest import Server, start_server, stop_server
from tests.e2e import add_user, cli_json
from tests.e2e.test_client_metadata_documents import DocumentServer
from tests.tls import make_certificates

CALLBACK = "http://127.0.0.1:33418/callback"


class Memory:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """The customer at the browser: logs in and allows the assistant when the SDK opens the page."""

    def __init__(self, email: str, password: str) -> None:
        self.email, self.password = email, password
        self.browser = httpx.Client(follow_redirects=False, timeout=30)
        self.opened: list[str] = []
        self.returned: str | None = None
        self.willing = True

    async def open(self, url: str) -> None:
        self.opened.append(url)
        if not self.willing:
            raise RuntimeError("the person was asked to log in again")
        answer = await asyncio.to_thread(authorize, self.browser, url, self.email, self.password)
        assert answer.status_code in (302, 303), answer.text[:500]
        self.returned = answer.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        assert self.returned is not None
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.returned).query).items()}
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


def _structured(result: Any) -> Any:
    assert not result.is_error, result
    return json.loads(result.content[0].text)


@pytest.mark.both_databases
def test_an_assistant_connects_without_registration_works_within_its_grant_and_is_cut_off(server: Any) -> None:
    jane = add_user(server, "Jane")
    service = cli_json(server, "services", "add", "--client-id", str(jane.client_id), "--product", "Shared Hosting",
                       "--domain", "jane.example")
    other = add_user(server, "Otto")
    cli_json(server, "services", "add", "--client-id", str(other.client_id), "--product", "Otto's VPS")
    person = Person(jane.email, jane.password)
    storage = Memory()
    auth = OAuthClientProvider(
        server_url=server.url + "/mcp",
        client_metadata=OAuthClientMetadata(client_name="Test Assistant", redirect_uris=[CALLBACK],
                                            grant_types=["authorization_code", "refresh_token"],
                                            token_endpoint_auth_method="none"),
        storage=storage, redirect_handler=person.open, callback_handler=person.callback)

    async def calls() -> tuple[list[str], Any, Any]:
        async with httpx2.AsyncClient(auth=auth, timeout=30) as http, \
                Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            services = _structured(await client.call_tool("list_services", {}))
            ticket = _structured(await client.call_tool("open_ticket", {"subject": "Site down",
                                                                         "message": "Since noon."}))
            return tools, services, ticket

    tools, services, ticket = aio.run(calls())
    # The SDK found everything itself: one login and consent, a client registered on the way.
    assert len(person.opened) == 1
    opened = parse_qs(urlsplit(person.opened[0]).query)
    assert opened["resource"] == [server.url + "/mcp"] and opened["code_challenge_method"] == ["S256"]
    assert storage.client is not None and storage.client.client_id
    assert {"list_services", "list_domains", "list_invoices", "list_tickets", "open_ticket"} <= set(tools)
    # Only the person's own account: Otto's service is not there.
    assert [(s["id"], s["product"], s["domain"]) for s in services["data"]] == \
        [(service["serviceId"], "Shared Hosting", "jane.example")]
    assert ticket["subject"] == "Site down" and ticket["account_id"] == jane.client_id

    # The connected-applications page shows the assistant; the person revokes it there.
    page = person.browser.get(server.url + "/account/applications")
    assert page.status_code == 200 and "Test Assistant" in page.text
    revoke = form_with(page.text, str(page.url), "app")
    assert person.browser.post(revoke.action, data=revoke.fields).status_code in (302, 303)

    # The next call is refused: the SDK's token no longer works, so it would have to ask the person again.
    person.willing = False

    async def after() -> None:
        async with httpx2.AsyncClient(auth=auth, timeout=30) as http, \
                Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            await client.call_tool("list_services", {})

    with pytest.raises(BaseException):  # noqa: B017 (the SDK wraps the refusal in its own task-group errors)
        aio.run(after())
    assert len(person.opened) == 2  # sent back to the login page: the old token was refused
    token = storage.tokens
    assert token is not None
    refused = httpx.post(server.url + "/mcp", headers={"Authorization": f"Bearer {token.access_token}",
                                                       "Accept": "application/json, text/event-stream"},
                         json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]


@pytest.fixture
def documents(tmp_path: Path) -> Iterator[tuple[DocumentServer, Path]]:
    """The test's https server for the assistant's Client ID Metadata Document (its CA trusted by Hospes)."""
    ca, cert, key = make_certificates(tmp_path)
    docs = DocumentServer(cert, key)
    try:
        yield docs, ca
    finally:
        docs.close()


def test_an_assistant_known_by_its_metadata_document_connects_fetched_once_and_is_cut_off(
        database_url: str, tmp_path: Path, documents: tuple[DocumentServer, Path]) -> None:
    docs, ca = documents
    # The assistant publishes its Client ID Metadata Document; the URL is its client_id (no registration).
    client_id = docs.document("/assistant/client.json", name="Doc Assistant", redirect_uris=[CALLBACK],
                              scope=" ".join(scope_table.API_SCOPES),
                              headers={"Cache-Control": "public, max-age=600"})
    server = start_server(database_url, tmp_path, {"SSL_CERT_FILE": str(ca), "HOSPES_FETCH_ALLOW_PRIVATE": "true"})
    try:
        _metadata_document_assistant(server, docs, client_id)
    finally:
        stop_server(server)


def _metadata_document_assistant(server: Server, docs: DocumentServer, client_id: str) -> None:
    jane = add_user(server, "Jane")
    service = cli_json(server, "services", "add", "--client-id", str(jane.client_id), "--product", "Shared Hosting",
                       "--domain", "jane.example")
    person = Person(jane.email, jane.password)
    metadata = OAuthClientMetadata(client_name="Doc Assistant", redirect_uris=[CALLBACK],
                                   grant_types=["authorization_code", "refresh_token"],
                                   token_endpoint_auth_method="none")

    def provider(storage: Memory) -> OAuthClientProvider:
        return OAuthClientProvider(server_url=server.url + "/mcp", client_metadata=metadata, storage=storage,
                                   redirect_handler=person.open, callback_handler=person.callback,
                                   client_metadata_url=client_id)

    first = Memory()

    async def calls(auth: OAuthClientProvider) -> tuple[list[str], Any, Any]:
        async with httpx2.AsyncClient(auth=auth, timeout=30) as http, \
                Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            services = _structured(await client.call_tool("list_services", {}))
            ticket = _structured(await client.call_tool("open_ticket", {"subject": "Mail bounces",
                                                                         "message": "Since this morning."}))
            return tools, services, ticket

    tools, services, ticket = aio.run(calls(provider(first)))
    # The SDK chose the metadata document (discovery says client_id_metadata_document_supported) over registration.
    assert len(person.opened) == 1
    opened = parse_qs(urlsplit(person.opened[0]).query)
    assert opened["client_id"] == [client_id] and opened["resource"] == [server.url + "/mcp"]
    assert first.client is not None and first.client.client_id == client_id
    assert {"list_services", "open_ticket"} <= set(tools)
    assert [(s["id"], s["domain"]) for s in services["data"]] == [(service["serviceId"], "jane.example")]
    assert ticket["subject"] == "Mail bounces" and ticket["account_id"] == jane.client_id
    # The first authorization paid one fetch of the document.
    assert docs.hits["/assistant/client.json"] == 1

    # A second authorization (another session of the assistant, no tokens kept) while the document is fresh
    # fetches nothing.
    second = Memory()
    aio.run(calls(provider(second)))
    assert len(person.opened) == 2 and second.tokens is not None
    assert docs.hits["/assistant/client.json"] == 1

    # The connected-applications page names it by its document; revoking it there cuts both sessions off.
    page = person.browser.get(server.url + "/account/applications")
    assert page.status_code == 200 and "Doc Assistant" in page.text
    revoke = form_with(page.text, str(page.url), "app")
    assert person.browser.post(revoke.action, data=revoke.fields).status_code in (302, 303)
    for storage in (first, second):
        assert storage.tokens is not None
        refused = httpx.post(server.url + "/mcp", headers={"Authorization": f"Bearer {storage.tokens.access_token}",
                                                           "Accept": "application/json, text/event-stream"},
                             json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    person.willing = False
    with pytest.raises(BaseException):  # noqa: B017 (the SDK wraps the refusal in its own task-group errors)
        aio.run(calls(provider(first)))
    assert len(person.opened) == 3  # sent back to the login page: the old token was refused
