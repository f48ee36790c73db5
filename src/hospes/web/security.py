"""Headers every answer carries, and the request log (a line per request) that never writes a token."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hospes import logs
from hospes.accounts.reset import LINK_PATH
from hospes.web.http import scope_client_ip

log = logging.getLogger("hospes.access")

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def csp_with_form_targets(*urls: str) -> str:
    """The default policy, letting this page's forms also end at these URLs' origins. Browsers apply
    ``form-action`` to the redirects that follow a form post, so a page whose post answers with a redirect to
    an application (login, consent, logout confirmation) must name that application's origin, or the browser
    stops at the redirect and the person never gets back to the application."""
    sources = ["'self'"]
    for url in urls:
        parts = urlsplit(url)
        source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
        if parts.scheme and source not in sources and not any(c in source for c in " ;,'\"\\"):
            sources.append(source)
    return DEFAULT_CSP.replace("form-action 'self'", "form-action " + " ".join(sources))


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    """What every answer carries (pages may set their own Content-Security-Policy)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", DEFAULT_CSP.encode()),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


# Paths whose rest is a secret: a password-reset link's token. (Every other secret travels in a query
# string, e.g. /email/verify?token=, /oauth/singlesignon.php?access_token=, or in a body.)
SECRET_PATHS = (LINK_PATH,)


def logged_path(path: str) -> str:
    """The path as the access log writes it: with what follows a secret path's prefix replaced."""
    for prefix in SECRET_PATHS:
        at = path.find(prefix)
        if at >= 0:
            return path[:at + len(prefix)] + "<secret>"
    return path


def _header(scope: Scope, name: bytes, limit: int = 256) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value[:limit].decode("latin-1")
    return ""


class RequestLog:
    """The line written per request (HOSPES_ACCESS_LOG, or always with HOSPES_LOG_FORMAT=json): in text, the
    address, method, path, status and time; in JSON also the request id, the client (when known), the
    user-agent and the body's size. Never the query string: it may carry access tokens or codes (WHMCS's
    ``?access_token=``), and a secret path's rest is hidden (``logged_path``)."""

    def __init__(self, *, json: bool, trusted: tuple[Any, ...]) -> None:
        self.json = json
        self.trusted = trusted

    def __call__(self, scope: Scope, status: int | str, start: float, *, request_id: str | None = None,
                 nbytes: int = 0, client: int | str | None = None) -> None:
        address = scope_client_ip(scope, self.trusted)
        path = logged_path(scope["path"])
        took = (time.perf_counter() - start) * 1000
        if not self.json:
            log.info('%s "%s %s" %s %.1fms', address or "-", scope["method"], path, status, took)
            return
        fields: dict[str, Any] = {"request_id": request_id, "method": scope["method"], "path": path,
                                  "status": status, "duration_ms": round(took, 2), "client_ip": address,
                                  "user_agent": _header(scope, b"user-agent"), "bytes": nbytes}
        if client is None and scope.get("query_string"):
            # A page's client is in its query (the authorization request's client_id, never a secret).
            client = _query_client_id(scope["query_string"])
        if isinstance(client, str):
            fields["client_id"] = client[:255]
        elif isinstance(client, int):
            fields["credential_id"] = client
        logs.access_line(f"{scope['method']} {path} {status}", fields)


def _query_client_id(query: bytes) -> str | None:
    for part in query.split(b"&"):
        if part.startswith(b"client_id="):
            return unquote_plus(part[10:266].decode("latin-1"))
    return None


class SecurityHeaders:
    """Pure ASGI (no per-request objects): adds headers unless the endpoint set its own, the request's id
    (``X-Request-ID``, given by HotPaths), and writes the request's line when ``request_log``."""

    def __init__(self, app: ASGIApp, *, https: bool, request_log: RequestLog | None = None) -> None:
        self.app = app
        self.extra = security_headers(https)
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder: dict[str, Any] = {}
        sent = [0]
        request_id = logs.request_id()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in self.extra if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if request_id is not None and b"x-request-id" not in names:
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                sent[0] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            status_holder.setdefault("status", 500)  # the error middleware outside answers 500 (or 503)
            raise
        finally:
            if self.request_log is not None:
                self.request_log(scope, status_holder.get("status", "-"), start, request_id=request_id,
                                 nbytes=sent[0])
