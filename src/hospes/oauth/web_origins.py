"""The web origins of the clients' registered redirect URIs: where their browser applications run.

A single-page application gets its code at its redirect URI and then calls the token, revocation and userinfo
endpoints from that page's origin, which a browser allows only when the answer names the origin (the Fetch
standard's CORS protocol, https://fetch.spec.whatwg.org/#http-cors-protocol). web/oauth_endpoints.py asks here
whether an origin is one a client registered.

The origins are read from the database (one query for every client) at most every ``reload_seconds`` per
process, and again, at most once a second, when an origin or client is not yet known: a client registered
through another worker, node or the CLI is answered from its first request on, and a redirect URI removed stops
counting within ``reload_seconds``. No request waits on a query beyond those. The set decides only whether a
browser lets a page read an answer; every answer still authenticates its client and token itself.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from hospes.oauth.redirects import loopback_without_port
from hospes.store.lookups import Lookups

RELOAD_SECONDS = 30.0
RETRY_SECONDS = 1.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """The origin of an http(s) URI serialised as a browser sends it in ``Origin`` (RFC 6454 §6.2: lower-case
    scheme and host, no default port); None for other URIs (a native app's scheme has no web origin). For http
    to a loopback IP literal, without its port, since any port matches there (oauth/redirects.py)."""
    uri = loopback_without_port(uri) or uri
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


class WebOrigins:
    """Which clients registered a redirect URI at each origin, cached per process (the module's docstring)."""

    def __init__(self, lookups: Lookups, *, reload_seconds: float = RELOAD_SECONDS) -> None:
        self._lookups = lookups
        self._reload = reload_seconds
        self._clients: dict[str, frozenset[int]] = {}  # origin -> the ids of the clients registered there
        self._ids: dict[str, int] = {}  # client identifier -> id
        self._loaded = -float("inf")

    async def allows(self, origin: str, client: int | str | None = None) -> bool:
        """Whether ``origin`` (a request's Origin header) is the origin of a redirect URI of ``client`` (its id
        or identifier), or of any client when ``client`` is None."""
        key = _key(origin)
        age = time.monotonic() - self._loaded
        if age > self._reload or (age > RETRY_SECONDS and not self._match(key, client)):
            await self._load()
        return self._match(key, client)

    def _match(self, key: str, client: int | str | None) -> bool:
        ids = self._clients.get(key)
        if not ids:
            return False
        if client is None:
            return True
        return (self._ids.get(client) if isinstance(client, str) else client) in ids

    async def _load(self) -> None:
        # Marked first, so the requests that arrive while the query runs do not each start one.
        before, self._loaded = self._loaded, time.monotonic()
        try:
            rows = await self._lookups.client_redirects()
        except BaseException:
            self._loaded = before
            raise
        clients: dict[str, set[int]] = {}
        for row in rows:
            for uri in row.redirect_uris:
                origin = origin_of(uri) if isinstance(uri, str) else None
                if origin is not None:
                    clients.setdefault(origin, set()).add(row.id)
        self._clients = {origin: frozenset(ids) for origin, ids in clients.items()}
        self._ids = {row.identifier: row.id for row in rows}


def _key(origin: str) -> str:
    # A browser's Origin is already serialised; only a loopback origin loses its port, as origin_of does.
    return loopback_without_port(origin) or origin
