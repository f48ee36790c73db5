"""The MCP server at {issuer}/mcp: the customer API's operations as MCP tools (api/tools.py), over the MCP SDK's
Streamable HTTP transport (https://modelcontextprotocol.io/specification/2025-11-25/basic/transports), stateless
with JSON answers: every POST stands alone, so any worker answers any request and nothing is kept between them.

Authorization (https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization) is checked here,
before the SDK reads the request:

- The token comes in the Authorization header only (RFC 6750 §2.1). None, or one that is unknown, expired,
  revoked, or issued for another audience than {issuer}/mcp (RFC 8707; a customer-API token is refused too, the
  MCP specification's "Token Audience Binding"): 401 with ``WWW-Authenticate: Bearer`` naming the resource's
  metadata (RFC 9728 §5.1), with ``error="invalid_token"`` when a token was given (RFC 6750 §3.1).
- A ``tools/call`` whose tool needs a scope the token lacks: 403 with ``error="insufficient_scope"`` and
  ``scope="<the tool's scope>"`` at the HTTP level (the specification's "Scope Challenge Handling"), so a client
  can step up: ask the person for that scope and retry. The challenge names only the scope needed (RFC 6750
  §3.1; the 2026-07-28 revision of the specification leaves adding the scopes already held to the client).

The token is looked up at every request (store/lookups.py), so revoking the application stops its next call.

One request is answered here rather than by the SDK: a plain ``tools/call``, which every assistant sends for every
tool it uses. The SDK builds a transport, a connection and a task for each stateless request of the handshake era
(2025-11-25 and before), and runs a ladder of checks and middleware for each request of 2026-07-28: three to ten
times the work of the tool itself. Here the request passes the SDK's own checks (its params models; for
2026-07-28 its routing-header and envelope ladder, ``classify_inbound_request``) and the tool runs as the SDK's
handler runs it (``_tool_result``); the answer is the one the SDK gives (tests/mcp compares them byte for byte).
Anything else, or anything unusual about that request (a session, a batch, Mcp-Param headers, a check that
fails), goes to the SDK, which answers it the specification's way.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
import orjson
from mcp.server.lowlevel import Server
from mcp.server.streamable_http import check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import InboundModernRoute, classify_inbound_request, find_duplicated_routing_header
from mcp_types.methods import validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from hospes import __version__
from hospes.api import metadata, tools
from hospes.api.errors import InsufficientScope
from hospes.api.operations import check_scope, perform_read, perform_write
from hospes.clock import now
from hospes.oauth import dpop, errors
from hospes.secrets import digest
from hospes.store.lookups import ApiTokenRow
from hospes.store.unavailable import is_unavailable
from hospes.web import failures, resource_auth
from hospes.web.context import Web
from hospes.web.resource_cors import ResourceCors

Headers = list[tuple[bytes, bytes]]
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")
# The transport's headers; "*" covers 2026-07-28's Mcp-Param-* (a wildcard never covers Authorization, so it is
# named: https://fetch.spec.whatwg.org/#cors-preflight-fetch).
CORS = ResourceCors(b"GET, POST, DELETE",
                    request_headers=(b"Authorization, Content-Type, Accept, DPoP, Mcp-Protocol-Version, "
                                     b"Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID, *"),
                    expose=b"WWW-Authenticate, DPoP-Nonce, Mcp-Session-Id")
MAX_BODY = 1 << 20  # a tool call's arguments are small; the SDK's own limit is 4 MiB
MAX_TOKEN = 512

INSTRUCTIONS = (
    "Tools for a hosting customer's client area: their services, domains, invoices and support tickets, in the "
    "client accounts the person chose when connecting this assistant. Each tool's description names the OAuth "
    "scope it needs. Ids are the client area's; list_accounts gives the account ids."
)


@dataclass(frozen=True)
class McpCaller:
    token: ApiTokenRow
    ip: str


# The request's caller, for the tool handlers the SDK runs (tasks it starts copy this context).
_CALLER: contextvars.ContextVar[McpCaller] = contextvars.ContextVar("hospes_mcp_caller")


class Refused(Exception):
    """An answer before the SDK: a bearer challenge (RFC 6750 §3) or a request the transport cannot take."""

    def __init__(self, status: int, error: errors.OAuthError | None, scheme: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.error = error
        self.scheme = scheme  # the Authorization header's ("bearer" or "dpop"), for the challenge's scheme


# The SDK logs every stateless request at INFO ("Terminating session: None"); its warnings and errors still show.
logging.getLogger("mcp").setLevel(logging.WARNING)


class McpServer:
    """Pure ASGI, mounted at /mcp in HotPaths (app.py); ``running()`` belongs in the application's lifespan."""

    def __init__(self, web: Web) -> None:
        self.web = web
        issuer = web.provider.issuer
        self.audience = metadata.resource(issuer, metadata.MCP)
        self.metadata_url = metadata.metadata_url(issuer, metadata.MCP)
        self.server: Server[Any] = Server("hospes", version=__version__, title=web.settings.company_name,
                                          instructions=INSTRUCTIONS, on_list_tools=self._list_tools,
                                          on_call_tool=self._call_tool, get_tool_input_schema=_input_schema)
        self._tools = types.ListToolsResult(tools=[_described(tool) for tool in tools.TOOLS])
        self.manager = self._new_manager()

    def _new_manager(self) -> StreamableHTTPSessionManager:
        # No DNS-rebinding check of Host and Origin: every request needs a bearer token, which a browser never
        # sends by itself, and the issuer's host may be reached through proxies under other names.
        return StreamableHTTPSessionManager(
            app=self.server, json_response=True, stateless=True, max_request_body_size=MAX_BODY,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The SDK's task group for the requests it serves. The SDK runs a manager once: an application whose
        lifespan starts again (a test client opened twice) gets a new one each time."""
        self.manager = self._new_manager()
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        try:
            if request.method == "OPTIONS":
                await self._options(send, request, origin)
                return
            token, scheme = await self._authenticate(request)
            body = await self._body(request) if request.method == "POST" else None
            message = _decoded(body) if body is not None else None
            self._check_scopes(token, message, scheme)
        except Refused as refused:
            await self._refuse(_adding(send, await self._cors(origin, None)), refused)
            return
        except Exception as exc:
            await self._failed(scope, send, exc)
            return
        # The answer carries the person's data: not to be stored by caches (RFC 9111 §5.2.2.5).
        send = _adding(send, [NO_STORE, *await self._cors(origin, token.credential_id)])
        reset = _CALLER.set(McpCaller(token, self.web.ip(request)))
        try:
            call = _plain_tool_call(request, message)
            if call is not None:
                try:
                    answer = await self._answer_tool_call(*call)
                except Exception as exc:
                    await self._failed(scope, send, exc)
                    return
                await _send(send, 200, answer, [JSON])
                return
            replay = _replaying(body, receive) if body is not None else receive
            await self.manager.handle_request(scope, replay, send)
        finally:
            _CALLER.reset(reset)

    # -- browsers (CORS) --------------------------------------------------------------------------------------

    async def _cors(self, origin: str | None, credential_id: int | None) -> Headers:
        """A browser's MCP client (the MCP Inspector, an assistant in a web page) reads answers as the customer
        API's browser applications do (web/resource_cors.py); the challenge's header and the session's are for
        it to read."""
        return await CORS.answer(self.web.provider.origins, origin, credential_id)

    async def _options(self, send: Send, request: Request, origin: str | None) -> None:
        preflight = request.headers.get("access-control-request-method") is not None
        headers = await CORS.options(self.web.provider.origins, origin, preflight)
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    # -- before the SDK -------------------------------------------------------------------------------------

    async def _authenticate(self, request: Request) -> tuple[ApiTokenRow, str]:
        """The live token for this server and the scheme it came with ("bearer", or "dpop": RFC 9449 §7.1)."""
        presented = resource_auth.presented(request)
        if presented is None:
            raise Refused(401, None)  # RFC 6750 §3.1: no error code when no token was sent
        scheme, value = presented
        provider = self.web.provider
        try:
            # RFC 9449 §7.1: a DPoP request's proof, checked before the token is looked up, then the binding.
            proof = resource_auth.proof_of(provider, scheme, value, request)
            found = None
            if len(value) <= MAX_TOKEN:
                found = await provider.lookups.audience_token(digest(value), now(), self.audience)
            if found is None:
                raise errors.InvalidToken("The access token is invalid, expired, revoked or not for this MCP server.")
            await dpop.admit(provider, scheme, found.jkt, proof)
        except errors.OAuthError as exc:
            raise Refused(401, exc, scheme) from None
        return found, scheme

    async def _body(self, request: Request) -> bytes:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise Refused(413, None)
        return body

    def _check_scopes(self, token: ApiTokenRow, message: Any, scheme: str) -> None:
        """RFC 6750 §3.1 at the HTTP level for each tools/call the body holds (a JSON-RPC batch, 2025-03-26, may
        hold several). A body the SDK cannot read (None here) is left to it to answer."""
        for item in message if isinstance(message, list) else [message]:
            if not isinstance(item, dict) or item.get("method") != "tools/call":
                continue
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            tool = tools.BY_NAME.get(name) if isinstance(name, str) else None
            if tool is not None:
                try:
                    check_scope(tool.operation, token.scope)
                except InsufficientScope as exc:
                    raise Refused(403, exc, scheme) from None

    async def _refuse(self, send: Send, refused: Refused) -> None:
        exc = refused.error
        parts = [f'scope="{exc.scope}"'] if isinstance(exc, InsufficientScope) else []
        parts.append(f'resource_metadata="{self.metadata_url}"')
        headers: Headers = [JSON, NO_STORE, *resource_auth.refusal_headers(self.web.provider, refused.status,
                                                                            refused.scheme, exc, parts)]
        if exc is not None:
            body = orjson.dumps(exc.as_dict())
        elif refused.status == 401:
            body = orjson.dumps({"error": "invalid_token", "error_description": "An access token is required "
                                 "(Authorization: Bearer or DPoP)."})
        else:
            body = orjson.dumps({"error": "invalid_request", "error_description": "The request is too large."})
        await _send(send, refused.status, body, headers)

    async def _failed(self, scope: Scope, send: Send, exc: Exception) -> None:
        """As the other hot paths: one log line with a request id; 503 with Retry-After when the database is
        unavailable (web/failures.py)."""
        request_id = (b"x-request-id", failures.report(scope["method"], scope["path"], exc).encode())
        if is_unavailable(exc):
            await _send(send, 503, orjson.dumps(failures.UNAVAILABLE),
                        [JSON, NO_STORE, (b"retry-after", failures.RETRY_AFTER.encode()), request_id])
        else:
            await _send(send, 500, orjson.dumps(failures.SERVER_ERROR), [JSON, NO_STORE, request_id])

    async def _answer_tool_call(self, request_id: str | int, params: types.CallToolRequestParams,
                                modern: bool) -> bytes:
        """The JSON-RPC answer (JSON-RPC 2.0 §5) to a plain tools/call, as the SDK would give it."""
        try:
            outcome = await self._tool_result(params)
            if modern:
                # 2026-07-28: the result's type, and the serverInfo stamp the SDK puts on every result.
                outcome |= {"resultType": "complete",
                            "_meta": {types.SERVER_INFO_META_KEY: self.server.server_info_stamp}}
            result: dict[str, Any] = {"result": outcome}
        except MCPError as exc:
            result = {"error": exc.error.model_dump(mode="json", exclude_none=True)}
        return orjson.dumps({"jsonrpc": "2.0", "id": request_id, **result})

    # -- the MCP requests -----------------------------------------------------------------------------------

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return self._tools

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult.model_validate(await self._tool_result(params))

    async def _tool_result(self, params: types.CallToolRequestParams) -> dict[str, Any]:
        """A CallToolResult in its wire form: for the SDK (``_call_tool``) and ``_answer_tool_call``."""
        tool = tools.BY_NAME.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name[:60]}")
        caller = _CALLER.get()
        provider = self.web.provider
        try:
            check_scope(tool.operation, caller.token.scope)  # answered 403 before; never skipped
            args = tools.arguments(tool, params.arguments, caller.ip)
            if tool.operation.writes:
                result = await run_in_threadpool(perform_write, provider, tool.operation, caller.token, args)
            else:  # on the event loop, as the customer API's reads
                result = await perform_read(provider, tool.operation, caller.token, args)
        except errors.OAuthError as exc:
            # A tool's own failure (no such record, a bad argument) is a result the model can read and act on.
            return _result(exc.as_dict(), error=True)
        return _result(tools.answer(result, args))


def _described(tool: tools.Tool) -> types.Tool:
    return types.Tool(
        name=tool.name, title=tool.title, description=tool.description, input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(title=tool.title, read_only_hint=tool.read_only,
                                          destructive_hint=None if tool.read_only else False,
                                          idempotent_hint=tool.read_only,
                                          open_world_hint=False),
        # The scope the tool needs, for clients that ask for it before calling (the description says it too).
        _meta={"hospes/scope": tool.scope},
    )


def _result(structured: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
    """A CallToolResult: JSON text (for clients that show text) and the same as structured content."""
    text = orjson.dumps(structured).decode()
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": error}


def _input_schema(name: str) -> dict[str, Any] | None:
    """For the SDK's check of 2026-07-28's Mcp-Param headers (without it, the SDK lists the tools to find it)."""
    tool = tools.BY_NAME.get(name)
    return tool.input_schema if tool is not None else None


def _decoded(body: bytes) -> Any:
    """The JSON body, or None when it is not JSON (the SDK answers that)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _plain_tool_call(request: Request, message: Any) -> tuple[str | int, types.CallToolRequestParams, bool] | None:
    """The id and params of a stateless, single JSON tools/call of a known tool, and whether it is of 2026-07-28;
    None to leave the request to the SDK (https://modelcontextprotocol.io/specification/2025-11-25/basic/transports,
    "Sending Messages to the Server": the Accept and Content-Type it requires, the MCP-Protocol-Version it
    checks; for 2026-07-28, the SDK's own ladder)."""
    if not (isinstance(message, dict) and message.get("jsonrpc") == "2.0" and message.get("method") == "tools/call"
            and set(message) <= {"jsonrpc", "id", "method", "params"}):
        return None
    headers = request.headers
    version = headers.get("mcp-protocol-version")
    modern = version in MODERN_PROTOCOL_VERSIONS
    if (version is not None and not modern and version not in HANDSHAKE_PROTOCOL_VERSIONS) or (
            "mcp-session-id" in headers):
        return None
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    if not all(check_accept_headers(request)):
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str) or not isinstance(
            message.get("params"), dict):
        return None
    if modern and not _passes_the_ladder(request, message):
        return None
    try:
        params = types.CallToolRequestParams.model_validate(message["params"])
    except ValidationError:
        return None
    if params.name not in tools.BY_NAME or params.task is not None:
        return None
    return request_id, params, modern


def _passes_the_ladder(request: Request, message: dict[str, Any]) -> bool:
    """The SDK's checks of a 2026-07-28 request (mcp/server/_streamable_http_modern.py): no routing header given
    twice, the routing headers and the envelope agree, params valid for that version. Mcp-Param-* headers (none
    of these tools declares one) are left to the SDK."""
    pairs = [(name.lower(), value) for name, value in request.headers.items()]
    if find_duplicated_routing_header(pairs) is not None or any(n.startswith("mcp-param-") for n, _ in pairs):
        return False
    verdict = classify_inbound_request(message, headers=dict(request.headers))
    if not isinstance(verdict, InboundModernRoute):
        return False
    try:
        validate_client_request("tools/call", verdict.protocol_version, message["params"])
    except (ValidationError, KeyError, ValueError):
        return False
    return True


def _adding(send: Send, extra: Headers) -> Send:
    """``send`` with ``extra`` headers on the answer (a header the answer has already is kept as it is)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers += [(name, value) for name, value in extra if name not in present]
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request's body, read already, for the SDK to read again; then the connection's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _send(send: Send, status: int, body: bytes, headers: Headers) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
