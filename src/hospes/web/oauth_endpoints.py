"""The endpoints relying parties call on every request: discovery, JWKS, token, userinfo,
introspection and revocation; and the pushed authorization request endpoint (RFC 9126) beside the token
endpoint, which it resembles.

They are plain ASGI handlers, dispatched by exact path before Starlette (``HotPaths``, the outermost
application, wired in ``app.py``): no request objects, no middleware chain, and no thread hop where the
work does not block. They answer with the same security headers as every page, and every error in the form
RFC 6749 §5.2 and RFC 6750 §3 name.

A browser application may call the token, revocation and userinfo endpoints from the origin of one of its
registered redirect URIs (CORS: preflights answered, the origin named in the answer; oauth/web_origins.py);
discovery and the JWKS are public documents for any origin.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from hospes import logs
from hospes.oauth import client_auth, device, dpop, errors, introspection, par, revocation, token, userinfo
from hospes.store.unavailable import is_unavailable
from hospes.web import failures, not_found
from hospes.web.context import Web
from hospes.web.http import MAX_BODY, BodyTooLarge, Params, form_of, from_trusted_proxy, parse_params, scope_client_ip
from hospes.web.security import RequestLog, security_headers

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, bytes, Headers]

JSON = (b"content-type", b"application/json")
NO_STORE: Headers = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
PUBLIC: Headers = [(b"cache-control", b"public, max-age=300"), (b"access-control-allow-origin", b"*")]
BASIC_CHALLENGE = (b"www-authenticate", b'Basic realm="hospes", charset="UTF-8"')
SERVER_ERROR = orjson.dumps(failures.SERVER_ERROR)
UNAVAILABLE = orjson.dumps(failures.UNAVAILABLE)
RETRY_AFTER = (b"retry-after", failures.RETRY_AFTER.encode())
METHOD_NOT_ALLOWED = orjson.dumps(not_found.protocol_error(405))


class Call:
    """What the handlers read of a request, taken from the ASGI scope in one pass."""

    __slots__ = ("method", "path", "query", "authorization", "content_type", "content_length", "origin", "client",
                 "dpop", "scope", "logged", "_receive")

    def __init__(self, scope: Scope, receive: Receive, logged: bool = False) -> None:
        self.scope = scope
        # Whether the request's log line is written: it names the client, so the handlers find it out.
        self.logged = logged
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.authorization: str | None = None
        self.content_type = ""
        self.content_length = b""
        self.origin: bytes | None = None  # a browser's cross-origin call
        # The client the answer is for, once a handler knows it (its id or identifier): CORS answers only
        # the origins of that client's redirect URIs.
        self.client: int | str | None = None
        self.dpop: list[str] = []  # RFC 9449 §4.1: the DPoP headers' values (more than one is refused)
        for name, value in scope["headers"]:
            if name == b"authorization" and self.authorization is None:
                self.authorization = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = value
            elif name == b"origin":
                self.origin = value
            elif name == b"dpop":
                self.dpop.append(value.decode("latin-1"))
        self._receive = receive

    def ip(self, web: Web) -> str:
        """The caller's address (X-Forwarded-For from a trusted proxy alone), for an audit entry."""
        return scope_client_ip(self.scope, web.settings.trusted_proxy_networks)

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
    if isinstance(exc, errors.UseDpopNonce):
        headers.append((b"dpop-nonce", exc.nonce.encode()))  # RFC 9449 §8: the nonce to retry with
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


def _scheme(authorization: str | None) -> str | None:
    presented = dpop.scheme_and_token(authorization)
    return presented[0] if presented is not None else None


def _dpop_error(web: Web, exc: errors.OAuthError) -> Answer:
    # RFC 9449 §7.1: a DPoP request's error is a DPoP challenge, 401 (403 for insufficient_scope, RFC 6750 §3.1);
    # §9: use_dpop_nonce with the nonce to retry with.
    headers = [*NO_STORE, (b"www-authenticate", web.provider.dpop.challenge_for(exc).encode("ascii"))]
    if isinstance(exc, errors.UseDpopNonce):
        headers.append((b"dpop-nonce", exc.nonce.encode()))
    return _json(403 if exc.status_code == 403 else 401, exc.as_dict(), headers)


# -- the endpoints ----------------------------------------------------------------------------------


async def discovery(web: Web, call: Call) -> Answer:
    return _json(200, await web.provider.discovery.document_json(), PUBLIC)


@functools.cache
def _jwks_headers(max_age: int) -> tuple[tuple[bytes, bytes], ...]:
    # The max-age a rotation waits out before a new key signs (oauth/keys.py: activation_delay).
    return ((b"content-type", b"application/jwk-set+json"), (b"cache-control", f"public, max-age={max_age}".encode()),
            (b"access-control-allow-origin", b"*"))


async def jwks(web: Web, call: Call) -> Answer:
    keys = web.provider.keys
    # The cached set is served straight from memory; only a due reload goes to the thread pool. A reload that
    # fails keeps the last good set (oauth/keys.py), so the JWKS answers while the database is away.
    body = keys.jwks_json() if keys.is_fresh() else await run_in_threadpool(keys.jwks_json)
    return 200, body, [*_jwks_headers(keys.jwks_max_age)]


def _presented_client(call: Call, form: Params) -> str | None:
    """For a browser's call (or the request log): the client_id the request presents (RFC 6749 §2.3.1), if any
    parses."""
    if call.origin is None and not call.logged:
        return None
    try:
        return client_auth.presented(call.authorization, form).client_id
    except errors.OAuthError:
        return None


async def _client_form(call: Call, endpoint: str | None) -> Params:
    """The form a client POSTs (RFC 6749 §3.2), the client it presents noted for CORS and the request log.
    ``endpoint``: its name for the error when another method was used (None: HotPaths answers that 405)."""
    if endpoint is not None and call.method != "POST":
        raise errors.InvalidRequest(f"The {endpoint} endpoint accepts POST only.")
    form = await call.form()
    call.client = _presented_client(call, form)
    return form


def _with_next_nonce(web: Web, call: Call) -> Headers:
    """NO_STORE, and after a request with a DPoP proof when nonces are required at the authorization server, the
    nonce for the client's next proof, before the one it used runs out (RFC 9449 §8.2)."""
    headers = list(NO_STORE)
    if call.dpop and web.provider.dpop.nonce_required(resource=False):
        headers.append((b"dpop-nonce", web.provider.dpop.nonces.current().encode()))
    return headers


async def token_endpoint(web: Web, call: Call) -> Answer:
    try:
        form = await _client_form(call, "token")
        body = await token.token_request(web.provider, call.authorization, form, call.params(), call.ip(web),
                                         dpop_proofs=call.dpop, path=call.path)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(200, body, _with_next_nonce(web, call))


async def device_authorization_endpoint(web: Web, call: Call) -> Answer:
    """RFC 8628 §3.1-3.2 (oauth/device.py)."""
    try:
        form = await _client_form(call, "device authorization")
        body = await device.device_authorization(web.provider, call.authorization, form)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(200, body, NO_STORE)


async def par_endpoint(web: Web, call: Call) -> Answer:
    """RFC 9126 §2: a pushed authorization request, with a DPoP proof or none (RFC 9449 §10.1); 201 with its
    request_uri, or the §2.3 JSON error (a method other than POST: the 405 of HotPaths)."""
    try:
        form = await _client_form(call, None)
        body = await par.push(web.provider, call.authorization, form, dpop_proofs=call.dpop, path=call.path)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(201, body, _with_next_nonce(web, call))


async def userinfo_endpoint(web: Web, call: Call) -> Answer:
    try:
        form = await call.form(required=False)
        query = call.params()
        scheme, tok = userinfo.extract_token(call.authorization, form.get("access_token", []),
                                             query.get("access_token", []))
        found = await userinfo.userinfo(web.provider, tok, scheme, call.dpop, call.method, call.path)
    except errors.OAuthError as exc:
        if dpop.uses_dpop(_scheme(call.authorization), exc):
            return _dpop_error(web, exc)
        return _bearer_error(exc)
    call.client = found.credential_id
    headers = list(NO_STORE)
    if call.dpop and web.provider.dpop.nonce_required(resource=True):
        headers.append((b"dpop-nonce", web.provider.dpop.nonces.current().encode()))  # RFC 9449 §9
    return _json(200, found.claims, headers)


async def introspection_endpoint(web: Web, call: Call) -> Answer:
    try:
        form = await _client_form(call, "introspection")
        body = await introspection.introspect(web.provider, call.authorization, form)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return _json(200, body, NO_STORE)


async def revocation_endpoint(web: Web, call: Call) -> Answer:
    try:
        form = await _client_form(call, "revocation")
        await revocation.revoke(web.provider, call.authorization, form, call.ip(web))
    except errors.OAuthError as exc:
        return _client_error(exc)
    return 200, b"", list(NO_STORE)


# -- dispatch -----------------------------------------------------------------------------------------

Handler = Callable[[Web, Call], Awaitable[Answer]]

# CORS (https://fetch.spec.whatwg.org/#http-cors-protocol). The endpoints a browser application calls from its
# own origin, with the methods it may use there: only an origin of a registered redirect URI is answered.
# Introspection is not one: it is for resource servers, and a browser holds no client secret.
BROWSER_METHODS: dict[Handler, bytes] = {token_endpoint: b"POST", revocation_endpoint: b"POST",
                                         par_endpoint: b"POST", userinfo_endpoint: b"GET, POST"}
# Public documents, for any origin (PUBLIC's "*").
PUBLIC_DOCUMENTS: frozenset[Handler] = frozenset({discovery, jwks})
# What an application sends besides the CORS-safelisted headers: its client or bearer credentials, the form's
# type (safelisted, but not with every value), a DPoP proof (RFC 9449 §4.1).
REQUEST_HEADERS = b"Authorization, Content-Type, DPoP"
PREFLIGHT_MAX_AGE = (b"access-control-max-age", b"600")
VARY_ORIGIN = (b"vary", b"Origin")
# The bearer errors' challenge (RFC 6750 §3) and the DPoP nonce (RFC 9449 §8) are for the application to read.
EXPOSE = (b"access-control-expose-headers", b"WWW-Authenticate, DPoP-Nonce")


class HotPaths:
    """Pure ASGI, the outermost application: answers the paths in ``table`` itself and hands every other
    request (and the lifespan) to ``app``, the Starlette application. Nothing wraps these answers, so a
    handler that fails is answered here: a JSON 500, the error logged without the request."""

    def __init__(self, app: ASGIApp, *, web: Web, table: dict[str, tuple[frozenset[str], Handler]],
                 https: bool, request_log: RequestLog | None = None,
                 mounts: dict[str, ASGIApp] | None = None) -> None:
        self.app = app
        self.web = web
        prefix = web.settings.issuer_path
        self.table = {prefix + path: entry for path, entry in table.items()}
        # ASGI applications answered below a path prefix, before Starlette too (the customer API): they answer
        # every request themselves and get root_path set to the prefix.
        self.mounts = tuple((prefix + path, sub) for path, sub in (mounts or {}).items())
        if prefix:
            # RFC 8414 §3.1: for an issuer with a path, the metadata is at the host's root with the issuer's path
            # after the well-known suffix (/.well-known/oauth-authorization-server/tenant); §5 does the same for
            # openid-configuration. OpenID Connect Discovery §4.1's appended form is the prefixed entry above.
            self.table.update({path + prefix: entry for path, entry in table.items()
                               if path.startswith("/.well-known/")})
        self.security = security_headers(https)
        self.request_log = request_log
        # A proxy's X-Request-ID is taken only from a peer in HOSPES_TRUSTED_PROXIES; the answer per peer address
        # is kept (a proxy's few addresses), so no address is parsed per request.
        self.trusted = web.settings.trusted_proxy_networks
        self._trusted_peers: dict[str, bool] = {}
        # Called with (path, status, start) after each hot path's answer when metrics are on (web/metrics.py).
        self.metered: Callable[[str, int, float], None] | None = None

    def _request_id(self, scope: Scope) -> str:
        """The request's id (hospes/logs.py): a trusted proxy's well-formed X-Request-ID, else a new one."""
        if self.trusted:
            client = scope.get("client")
            peer = client[0] if client else ""
            trusted = self._trusted_peers.get(peer)
            if trusted is None:
                if len(self._trusted_peers) > 1000:
                    self._trusted_peers.clear()
                trusted = self._trusted_peers[peer] = from_trusted_proxy(peer, self.trusted)
            if trusted:
                for name, value in scope["headers"]:
                    if name == b"x-request-id":
                        return logs.accepted(value) or logs.new_request_id()
        return logs.new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # the lifespan: a start that fails stops the server
            return
        request_id = self._request_id(scope)
        bound = logs.bind(request_id)
        try:
            await self._answer(scope, receive, send, request_id)
        finally:
            logs.unbind(bound)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        entry = self.table.get(scope["path"])
        if entry is None:
            mounted = self._mounted(scope) if self.mounts else None
            if mounted is not None:
                await self._forward(scope, receive, send, *mounted, request_id)
                return
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                # Starlette's error middleware answered it (context.server_error, which logged it) and raises it
                # again for the server to log: uvicorn would write the whole traceback for every request.
                if not hasattr(exc, "hospes_request_id"):
                    failures.report(scope["method"], scope["path"], exc)
            return
        log_request = self.request_log
        start = time.perf_counter() if log_request is not None or self.metered else 0.0
        methods, handler = entry
        method = scope["method"]
        call = None
        if method in methods:
            call = Call(scope, receive, log_request is not None)
            try:
                status, body, headers = await handler(self.web, call)
                if handler in BROWSER_METHODS:
                    # Without an Origin (a server-side relying party), no await and no lookup.
                    headers += await self._cors(call) if call.origin is not None else (VARY_ORIGIN,)
            except Exception as exc:
                status, body, headers = _failed(method, scope["path"], exc)
        elif method == "OPTIONS":
            try:
                status, body, headers = await self._options(scope, methods, handler)
            except Exception as exc:
                status, body, headers = _failed(method, scope["path"], exc)
        else:
            status, body, headers = _json(405, METHOD_NOT_ALLOWED, [*NO_STORE, (b"allow", _allow(methods))])
        if status != 204:  # RFC 9110 §8.6: a 204 carries no Content-Length
            headers.append((b"content-length", str(len(body)).encode()))
        headers += self.security
        headers.append((b"x-request-id", request_id.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        sent = b"" if method == "HEAD" else body
        await send({"type": "http.response.body", "body": sent})
        if log_request is not None:
            log_request(scope, status, start, request_id=request_id, nbytes=len(sent),
                        client=call.client if call is not None else None)
        if self.metered is not None:
            self.metered(scope["path"], status, start)

    def _mounted(self, scope: Scope) -> tuple[str, ASGIApp] | None:
        path = scope["path"]
        for prefix, sub in self.mounts:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return prefix, sub
        return None

    async def _forward(self, scope: Scope, receive: Receive, send: Send, prefix: str, sub: ASGIApp,
                       request_id: str) -> None:
        """A mounted application's answer, with the security headers every answer carries and the request id."""
        log_request = self.request_log
        start = time.perf_counter() if log_request is not None else 0.0
        status: list[int] = []
        sent = [0]
        rid = (b"x-request-id", request_id.encode())

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = [*headers, *self.security, rid]
            elif message["type"] == "http.response.body":
                sent[0] += len(message.get("body", b""))
            await send(message)

        try:
            await sub({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, with_headers)
        finally:
            if log_request is not None:
                log_request(scope, status[0] if status else "-", start, request_id=request_id, nbytes=sent[0])

    async def _cors(self, call: Call) -> Headers:
        """An answer to a browser's call names its origin when that is the origin of a redirect URI of the
        client the answer is for (or, for an answer that came before any client was known, of any client)."""
        assert call.origin is not None
        if await self.web.provider.origins.allows(call.origin.decode("latin-1"), call.client):
            return [VARY_ORIGIN, (b"access-control-allow-origin", call.origin), EXPOSE]
        return [VARY_ORIGIN]

    async def _options(self, scope: Scope, methods: frozenset[str], handler: Handler) -> Answer:
        """OPTIONS (RFC 9110 §9.3.7): the methods; for a CORS preflight, what the browser may send."""
        headers: Headers = [(b"allow", _allow(methods)), (b"cache-control", b"no-store")]
        origin = requested = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                requested = value
        if origin is None or requested is None:
            return 204, b"", headers
        if handler in PUBLIC_DOCUMENTS:
            headers += [(b"access-control-allow-origin", b"*"), (b"access-control-allow-methods", b"GET, HEAD"),
                        PREFLIGHT_MAX_AGE]
        elif handler in BROWSER_METHODS:
            headers.append(VARY_ORIGIN)
            # A preflight carries no body and no credentials, so no client: the origin of any client's redirect
            # URI is answered, and the call itself is then checked against its own client (``_cors``).
            if await self.web.provider.origins.allows(origin.decode("latin-1")):
                headers += [(b"access-control-allow-origin", origin),
                            (b"access-control-allow-methods", BROWSER_METHODS[handler]),
                            (b"access-control-allow-headers", REQUEST_HEADERS), PREFLIGHT_MAX_AGE]
        return 204, b"", headers

    @property
    def state(self) -> Any:
        """The Starlette application's state (``app.state.web``), as if this were that application."""
        return self.app.state  # type: ignore[attr-defined]


def _failed(method: str, path: str, exc: Exception) -> Answer:
    """A handler that raised: 503 with Retry-After when the database is unavailable, else 500; logged under the
    request's id (which HotPaths answers in X-Request-ID)."""
    failures.report(method, path, exc)
    if is_unavailable(exc):
        return _json(503, UNAVAILABLE, [*NO_STORE, RETRY_AFTER])
    return _json(500, SERVER_ERROR, [*NO_STORE])


def _allow(methods: frozenset[str]) -> bytes:
    return ", ".join(sorted(methods | {"OPTIONS"})).encode()


GET = frozenset({"GET", "HEAD"})
# The token, introspection and revocation endpoints answer GET with the protocol's own error.
GET_POST = frozenset({"GET", "HEAD", "POST"})
# RFC 9126 §2.3: the PAR endpoint answers any other method 405.
POST = frozenset({"POST"})
