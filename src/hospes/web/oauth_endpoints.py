"""The endpoints relying parties call on every request: discovery, JWKS, token, userinfo,
introspection and revocation.

They are plain ASGI handlers, dispatched by exact path before Starlette (``HotPaths``, the outermost
application, wired in ``app.py``): no request objects, no middleware chain, and no thread hop where the
work does not block. They answer with the same security headers as every page, and every error in the form
RFC 6749 §5.2 and RFC 6750 §3 name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from hospes.oauth import errors, introspection, revocation, token, userinfo
from hospes.oauth.discovery import document_json
from hospes.web.context import Web
from hospes.web.http import MAX_BODY, BodyTooLarge, Params, form_of, parse_params
from hospes.web.security import access_log, security_headers

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, bytes, Headers]

JSON = (b"content-type", b"application/json")
NO_STORE: Headers = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
PUBLIC: Headers = [(b"cache-control", b"public, max-age=300"), (b"access-control-allow-origin", b"*")]
BASIC_CHALLENGE = (b"www-authenticate", b'Basic realm="hospes", charset="UTF-8"')
SERVER_ERROR = {"error": "server_error", "error_description": "The server could not answer this request."}

log = logging.getLogger("hospes.web")


class Call:
    """What the handlers read of a request, taken from the ASGI scope in one pass."""

    __slots__ = ("method", "query", "authorization", "content_type", "content_length", "_receive")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.authorization: str | None = None
        self.content_type = ""
        self.content_length = b""
        for name, value in scope["headers"]:
            if name == b"authorization" and self.authorization is None:
                self.authorization = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = value
        self._receive = receive

    def params(self) -> Params:
        return parse_params(self.query) if self.query else {}

    async def form(self, *, required: bool = True) -> Params:
        """The posted form, at most MAX_BODY bytes (RFC 6749 §3.2: urlencoded only)."""
        if self.method != "POST":
            return {}
        if self.content_length.isdigit() and int(self.content_length) > MAX_BODY:
            raise BodyTooLarge("The request body is too large.")
        body = b""
        while True:
            message = await self._receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                raise BodyTooLarge("The request body is too large.")
            if not message.get("more_body", False):
                break
        return form_of(self.content_type, body, required=required)


def _json(status: int, body: Any, headers: Headers) -> Answer:
    # orjson: a fraction of the stdlib's time for these small objects; UTF-8, compact.
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return status, data, [JSON, *headers]


def _client_error(exc: errors.OAuthError) -> Answer:
    headers = list(NO_STORE)
    if exc.status_code == 401:
        # RFC 9110 §15.5.2: a 401 carries a challenge. RFC 6749 §5.2: the scheme the client may use, also to a
        # client that tried client_secret_post or sent nothing.
        headers.append(BASIC_CHALLENGE)
    return _json(exc.status_code, exc.as_dict(), headers)


def _bearer_error(exc: errors.OAuthError) -> Answer:
    # RFC 6750 §3: the challenge names the error; with no token at all, no error code.
    if isinstance(exc, userinfo.MissingToken):
        return _json(401, {"error": "invalid_request", "error_description": "An access token is required."},
                     [*NO_STORE, (b"www-authenticate", b'Bearer realm="hospes"')])
    body = exc.as_dict()
    challenge = f'Bearer realm="hospes", error="{exc.error}"'
    if "error_description" in body:
        # Within %x20-21 / %x23-5B / %x5D-7E (oauth/errors.py), so a quoted-string with nothing to escape.
        challenge += f', error_description="{body["error_description"]}"'
    status = exc.status_code if exc.status_code in (401, 403) else 400
    return _json(status, body, [*NO_STORE, (b"www-authenticate", challenge.encode("ascii"))])


# -- the endpoints ----------------------------------------------------------------------------------


async def discovery(web: Web, call: Call) -> Answer:
    return _json(200, document_json(web.provider.issuer, web.provider.grants.grant_types), PUBLIC)


async def jwks(web: Web, call: Call) -> Answer:
    keys = web.provider.keys
    # The cached set is served straight from memory; only a due reload goes to the thread pool.
    body = keys.jwks_json() if keys.is_fresh() else await run_in_threadpool(keys.jwks_json)
    return 200, body, [(b"content-type", b"application/jwk-set+json"), *PUBLIC]


async def token_endpoint(web: Web, call: Call) -> Answer:
    try:
        if call.method != "POST":
            raise errors.InvalidRequest("The token endpoint accepts POST only.")
        body = await token.token_request(web.provider, call.authorization, await call.form(), call.params())
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(200, body, NO_STORE)


async def userinfo_endpoint(web: Web, call: Call) -> Answer:
    try:
        form = await call.form(required=False)
        query = call.params()
        tok = userinfo.extract_token(call.authorization, form.get("access_token", []),
                                     query.get("access_token", []))
        claims = await userinfo.userinfo(web.provider, tok)
    except errors.OAuthError as exc:
        return _bearer_error(exc)
    return _json(200, claims, [*NO_STORE, (b"access-control-allow-origin", b"*")])


async def introspection_endpoint(web: Web, call: Call) -> Answer:
    try:
        if call.method != "POST":
            raise errors.InvalidRequest("The introspection endpoint accepts POST only.")
        body = await introspection.introspect(web.provider, call.authorization, await call.form())
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(200, body, NO_STORE)


async def revocation_endpoint(web: Web, call: Call) -> Answer:
    try:
        if call.method != "POST":
            raise errors.InvalidRequest("The revocation endpoint accepts POST only.")
        await revocation.revoke(web.provider, call.authorization, await call.form())
    except errors.OAuthError as exc:
        return _client_error(exc)
    return 200, b"", list(NO_STORE)


# -- dispatch -----------------------------------------------------------------------------------------

Handler = Callable[[Web, Call], Awaitable[Answer]]


class HotPaths:
    """Pure ASGI, the outermost application: answers the paths in ``table`` itself and hands every other
    request (and the lifespan) to ``app``, the Starlette application. Nothing wraps these answers, so a
    handler that fails is answered here: a JSON 500, the error logged without the request."""

    def __init__(self, app: ASGIApp, *, web: Web, table: dict[str, tuple[frozenset[str], Handler]],
                 https: bool, log_requests: bool) -> None:
        self.app = app
        self.web = web
        prefix = web.settings.issuer_path
        self.table = {prefix + path: entry for path, entry in table.items()}
        if prefix:
            # RFC 8414 §3.1: for an issuer with a path, the metadata is at the host's root with the issuer's path
            # after the well-known suffix (/.well-known/oauth-authorization-server/tenant); §5 does the same for
            # openid-configuration. OpenID Connect Discovery §4.1's appended form is the prefixed entry above.
            self.table.update({path + prefix: entry for path, entry in table.items()
                               if path.startswith("/.well-known/")})
        self.security = security_headers(https)
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self.table.get(scope["path"]) if scope["type"] == "http" else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter() if self.log_requests else 0.0
        methods, handler = entry
        method = scope["method"]
        if method in methods:
            try:
                status, body, headers = await handler(self.web, Call(scope, receive))
            except Exception:
                log.exception("%s %s failed", method, scope["path"])
                status, body, headers = _json(500, SERVER_ERROR, list(NO_STORE))
        else:
            status, body = 405, b"Method Not Allowed"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"),
                       (b"allow", ", ".join(sorted(methods)).encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        headers += self.security
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        if self.log_requests:
            access_log(scope, status, start)

    @property
    def state(self) -> Any:
        """The Starlette application's state (``app.state.web``), as if this were that application."""
        return self.app.state  # type: ignore[attr-defined]


GET = frozenset({"GET", "HEAD"})
# The token, introspection and revocation endpoints answer GET with the protocol's own error.
GET_POST = frozenset({"GET", "HEAD", "POST"})
