"""CORS for Hospes's own protected resources (the customer API, web/api.py; the MCP server, web/mcp.py): a
browser application may read an answer from the origin of one of its client's redirect URIs (before a token is
known, of any client's; oauth/web_origins.py), and a preflight from such an origin is told what it may send
(https://fetch.spec.whatwg.org/#http-cors-protocol)."""

from __future__ import annotations

from dataclasses import dataclass

from hospes.oauth.web_origins import WebOrigins

Headers = list[tuple[bytes, bytes]]
VARY_ORIGIN = (b"vary", b"Origin")
NO_STORE = (b"cache-control", b"no-store")
PREFLIGHT_MAX_AGE = (b"access-control-max-age", b"600")


@dataclass(frozen=True)
class ResourceCors:
    methods: bytes  # what the resource answers, for Allow and a preflight
    request_headers: bytes  # what a browser may send
    expose: bytes  # the answer's headers a browser's script may read

    async def answer(self, origins: WebOrigins, origin: str | None, credential_id: int | None) -> Headers:
        """The CORS headers of an answer to a request from ``origin`` (with the token's client, when known)."""
        if origin is not None and await origins.allows(origin, credential_id):
            return [VARY_ORIGIN, (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", self.expose)]
        return [VARY_ORIGIN]

    async def options(self, origins: WebOrigins, origin: str | None, preflight: bool) -> Headers:
        """OPTIONS (RFC 9110 §9.3.7): what the resource allows; for a preflight from a registered origin, what
        the browser may send."""
        headers: Headers = [(b"allow", self.methods + b", OPTIONS"), NO_STORE, VARY_ORIGIN]
        if preflight and origin is not None and await origins.allows(origin):
            headers += [(b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-methods", self.methods),
                        (b"access-control-allow-headers", self.request_headers), PREFLIGHT_MAX_AGE]
        return headers
