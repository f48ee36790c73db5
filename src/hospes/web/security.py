"""Headers every answer carries, and an access log that never writes a token."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hospes.accounts.reset import LINK_PATH

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


def access_log(scope: Scope, status: int | str, start: float) -> None:
    # The path only: query strings may carry access tokens or codes (WHMCS's ?access_token=).
    client = scope.get("client") or ("-", 0)
    log.info('%s "%s %s" %s %.1fms', client[0], scope["method"], logged_path(scope["path"]), status,
             (time.perf_counter() - start) * 1000)


class SecurityHeaders:
    """Pure ASGI (no per-request objects): adds headers unless the endpoint set its own."""

    def __init__(self, app: ASGIApp, *, https: bool, log_requests: bool = False) -> None:
        self.app = app
        self.extra = security_headers(https)
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder: dict[str, Any] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in self.extra if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if self.log_requests:
                access_log(scope, status_holder.get("status", "-"), start)
