"""The customer API over HTTP ({issuer}/api/v1): read the bearer token, the query and the JSON body, hand them
to the core (hospes.api), render its answer as JSON.

The token comes in the Authorization header only (RFC 6750 §2.1): an API answer may be cached or logged by
intermediaries in ways a userinfo answer is not, so the query-string form WHMCS's userinfo accepts is refused.
Without a valid token the answer is 401 with a challenge naming the resource's metadata (RFC 6750 §3, RFC 9728
§5.1); without the operation's scope, 403 insufficient_scope with the scope needed; a token for another audience
(RFC 8707) is invalid_token; an operation of HOSPES_API_STEP_UP_SCOPES with a token from a login without a second
factor, 401 insufficient_user_authentication with acr_values (RFC 9470 §3). A browser application may
call it from the origin of one of its redirect URIs (CORS, oauth/web_origins.py), as it calls userinfo.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hospes.api import metadata, openapi
from hospes.api.caller import authenticate
from hospes.api.errors import InsufficientScope, InvalidRequest, MethodNotAllowed, NotFound
from hospes.api.operations import (
    Answer,
    Args,
    Operation,
    Page,
    check_scope,
    check_step_up,
    first_page,
    first_page_of,
    match,
    path_id,
    perform_read,
    perform_write,
    read_first_page,
    read_query,
)
from hospes.oauth import dpop, errors
from hospes.store.lookups import ApiTokenRow
from hospes.store.unavailable import is_unavailable
from hospes.web import failures, resource_auth
from hospes.web.context import Web
from hospes.web.http import BodyTooLarge, MalformedRequest, parse_params, read_body
from hospes.web.resource_cors import ResourceCors

Headers = list[tuple[bytes, bytes]]
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")
PUBLIC = [(b"cache-control", b"public, max-age=300"), (b"access-control-allow-origin", b"*")]
METHODS = b"GET, HEAD, POST"
CORS = ResourceCors(METHODS, request_headers=b"Authorization, Content-Type, DPoP",
                    expose=b"WWW-Authenticate, DPoP-Nonce")


class MissingToken(errors.OAuthError):
    """RFC 6750 §3.1: a request without a token gets a challenge without an error code."""

    error = "invalid_token"
    status_code = 401


class CustomerApi:
    """Pure ASGI, mounted at /api/v1 (app.py)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        issuer = web.provider.issuer
        self.base = metadata.resource(issuer)
        self.metadata_url = metadata.metadata_url(issuer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if scope["path"].startswith(root) else scope["path"]
        origin = request.headers.get("origin")
        try:
            status, body, headers = await self._answer(request, path, origin)
        except Exception as exc:
            # As the other hot paths: one log line with a request id; 503 with Retry-After when the database is
            # unavailable (web/failures.py).
            request_id = (b"x-request-id", failures.report(request.method, scope["path"], exc).encode())
            if is_unavailable(exc):
                status, body = 503, orjson.dumps(failures.UNAVAILABLE)
                headers = [JSON, NO_STORE, (b"retry-after", failures.RETRY_AFTER.encode()), request_id]
            else:
                status, body = 500, orjson.dumps(failures.SERVER_ERROR)
                headers = [JSON, NO_STORE, request_id]
        if status != 204:  # RFC 9110 §8.6: a 204 carries no Content-Length
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else body})

    async def _answer(self, request: Request, path: str, origin: str | None) -> tuple[int, bytes, Headers]:
        method = request.method
        if method == "OPTIONS":
            return await self._options(request, origin)
        if path == "/openapi.json":
            if method not in ("GET", "HEAD"):
                return self._error(MethodNotAllowed("openapi.json answers GET."), [(b"allow", b"GET, HEAD")])
            return 200, openapi.document_json(self.web.provider.issuer), [JSON, *PUBLIC]
        op, raw_id, known = match(method, path)
        if op is None:
            if known:
                return self._error(MethodNotAllowed("This path does not answer that method."),
                                   [(b"allow", METHODS)])
            return self._error(NotFound("There is no such operation in this API."))
        token: ApiTokenRow | None = None
        scheme: str | None = None
        provider = self.web.provider
        try:
            query = self._query(request)  # a token in the query is refused before anything else is read
            scheme, bearer = self._bearer(request)
            proof = resource_auth.proof_of(provider, scheme, bearer, request)
            listed = self._first_page(op, query)
            if listed is not None:  # a list's first page: the token, the accounts and the rows in one query
                found = await read_first_page(self.web.provider, op, bearer, listed)
                token = found.token
                await dpop.admit(provider, scheme, token.jkt, proof)
                check_scope(op, token.scope)
                check_step_up(op, token, self.web.provider.settings.step_up_scopes)
                args = listed
                result: Answer = await first_page_of(op, found, listed)
            else:
                token = await authenticate(self.web.provider, bearer)
                await dpop.admit(provider, scheme, token.jkt, proof)
                check_scope(op, token.scope)
                check_step_up(op, token, self.web.provider.settings.step_up_scopes)
                args = Args(id=path_id(raw_id) if raw_id is not None else None, query=read_query(op, query),
                            body=await self._body(request, op), ip=self.web.ip(request) if op.writes else "")
                if op.writes:
                    result = await run_in_threadpool(perform_write, self.web.provider, op, token, args)
                else:  # on the event loop, as userinfo's lookup (store/lookups.py)
                    result = await perform_read(self.web.provider, op, token, args)
        except errors.OAuthError as exc:
            status, body, headers = self._error(exc, scheme=scheme)
        else:
            body = orjson.dumps(self._render(op, result, args))
            status, headers = op.status, [JSON, NO_STORE]
        headers += await CORS.answer(self.web.provider.origins, origin,
                                     token.credential_id if token is not None else None)
        return status, body, headers

    def _first_page(self, op: Operation, query: dict[str, list[str]]) -> Args | None:
        """A list's first page, asked for with a query that reads (else the request takes ``_perform``, which
        refuses it in its own order: the token first, then its scope, then the query)."""
        if not (self.web.provider.lookups.pages_in_one_query and op.is_list):
            return None
        try:
            args = Args(query=read_query(op, query))
        except errors.OAuthError:
            return None
        return args if first_page(self.web.provider, op, args) else None

    # -- reading ------------------------------------------------------------------------------------------

    def _query(self, request: Request) -> dict[str, list[str]]:
        query = parse_params(request.scope.get("query_string", b"").decode("latin-1"))
        if "access_token" in query:
            raise InvalidRequest("Send the access token in the Authorization header (RFC 6750 section 2.1).")
        return query

    def _bearer(self, request: Request) -> tuple[str, str]:
        """The scheme ("bearer", or "dpop": RFC 9449 §7.1) and the access token of the Authorization header."""
        presented = resource_auth.presented(request)
        if presented is None:
            raise MissingToken("An access token is required (Authorization: Bearer or DPoP).")
        return presented

    async def _body(self, request: Request, op: Operation) -> dict[str, Any]:
        if op.body is None:
            return {}
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise InvalidRequest("The body must be JSON (Content-Type: application/json).")
        raw = await read_body(request)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidRequest("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return body

    # -- answering ----------------------------------------------------------------------------------------

    def _render(self, op: Operation, result: dict[str, Any] | Page, args: Args) -> dict[str, Any]:
        if not isinstance(result, Page):
            return result
        following = None
        if result.more:
            query = {k: v for k, v in args.query.items() if k != "page"}
            following = f"{self.base}{op.path}?{urlencode({**query, 'page': args.query.get('page', 1) + 1})}"
        return {"data": result.items, "next": following}

    def _error(self, exc: errors.OAuthError, extra: Headers | None = None,
               scheme: str | None = None) -> tuple[int, bytes, Headers]:
        headers: Headers = [JSON, NO_STORE, *(extra or [])]
        status = exc.status_code
        if isinstance(exc, MalformedRequest) and not isinstance(exc, BodyTooLarge):
            status = 400
        if dpop.uses_dpop(scheme, exc) and status == 400:
            status = 401  # RFC 9449 §7.1: a resource answers a proof's failure 401
        parts = []
        if isinstance(exc, InsufficientScope):
            parts.append(f'scope="{exc.scope}"')
        if isinstance(exc, errors.InsufficientUserAuthentication):
            parts.append(f'acr_values="{exc.acr_values}"')  # RFC 9470 §3
        parts.append(f'resource_metadata="{self.metadata_url}"')
        headers += resource_auth.refusal_headers(self.web.provider, status, scheme,
                                                 None if isinstance(exc, MissingToken) else exc, parts)
        return status, orjson.dumps(exc.as_dict()), headers

    async def _options(self, request: Request, origin: str | None) -> tuple[int, bytes, Headers]:
        preflight = request.headers.get("access-control-request-method") is not None
        return 204, b"", await CORS.options(self.web.provider.origins, origin, preflight)


async def protected_resource_metadata(request: Request) -> Response:
    """RFC 9728 §3: the customer API's or the MCP server's metadata, at its §3.1 path (app.py)."""
    issuer = request.app.state.web.provider.issuer
    base = metadata.MCP if request.url.path == metadata.metadata_path(issuer, metadata.MCP) else metadata.BASE
    return Response(metadata.document_json(issuer, base), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})
