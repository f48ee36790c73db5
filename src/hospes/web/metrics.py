"""/metrics, in Prometheus's text format, and the count of every request (hospes/metrics.py names them all).

``Metered`` is the outermost ASGI application when metrics are on (app.py): it counts each request by its
route template (a mounted application's prefix, or the Starlette route that answered; never the raw path,
which may carry an id or a token) and its status, and times it. The hot paths, whose path is their template,
HotPaths reports itself (``HotPaths.metered``): no wrapper around their answers, which costs more than the
count. It does so after the
answer, outside anything the request waits on, in plain dicts that reach prometheus-client within a
second (hospes/metrics.py ``BATCH``). With HOSPES_METRICS=off it is not built at all.

/metrics answers only a caller whose address is in HOSPES_METRICS (the address X-Forwarded-For gives when a
trusted proxy sends it, as everywhere) or who presents HOSPES_METRICS_TOKEN as a bearer token; anyone else
gets the site's own 404, as for a path that does not exist.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.types import Message, Receive, Scope, Send

from hospes import metrics
from hospes.clock import now
from hospes.oauth.keys import KeyRing
from hospes.web.context import Web
from hospes.web.http import client_ip
from hospes.web.security import security_headers

PATH = "/metrics"
UNMATCHED = "unmatched"  # a path no route serves (its 404), never the path itself


def templates(routes: Iterable[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Each route's full template by the route's id (Starlette sets ``scope["route"]`` to the innermost
    route that answered; a Mount's own template is its path and ``/{path}``)."""
    found: dict[int, str] = {}
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        if isinstance(route, Mount) and route.routes:
            found.update(templates(route.routes, path))
        found[id(route)] = path + "/{path}" if isinstance(route, Mount) else path or "/"
    return found


class KeyAge:
    """A collector read at each scrape: how long ago the key that signs now was created, per algorithm."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("hospes_signing_key_age_seconds",
                                   "Age of the signing key in use, by algorithm (since it was created).",
                                   labels=["alg"])
        t = now()
        try:
            listed = self.keys.list()
        except Exception:  # the database is away: the other metrics still answer, this one is left out
            listed = []
        for key in listed:
            if key.active:
                family.add_metric([key.alg], (t - datetime.fromisoformat(key.created_at)).total_seconds())
        yield family


def exposition(keys: KeyRing) -> bytes:
    """Every metric: this process's, or with ``--workers N`` every worker's added up; then the key age."""
    if metrics.multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    per_scrape = CollectorRegistry()
    per_scrape.register(KeyAge(keys))
    return generate_latest(registry) + generate_latest(per_scrape)


class Metered:
    """Pure ASGI, around ``app`` (HotPaths, which answers the hot paths and hands the rest to Starlette)."""

    def __init__(self, app: Any, *, web: Web, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.web = web
        self.path = web.settings.issuer_path + PATH
        # The hot paths and the mounted applications that HotPaths answers itself.
        self.hot: dict[str, str] = {path: path for path in app.table}
        app.metered = metrics.answered  # HotPaths counts its own answers: no wrapper around them
        self.mounts: tuple[str, ...] = tuple(prefix for prefix, _ in app.mounts)
        self.templates = templates(routes)
        networks = web.settings.metrics_networks
        self.networks: tuple[Any, ...] = networks or ()
        self.token = (web.settings.metrics_token or "").encode() or None
        self.trusted = web.settings.trusted_proxy_networks
        self.headers = [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"cache-control", b"no-store"),
                        *security_headers(web.settings.secure_cookies)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.path and scope["method"] in ("GET", "HEAD") and self.allowed(scope):
            await self.scrape(scope, send)
            return
        if path in self.hot:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]  # an application that raised before answering: the server answers 500

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics.answered(self.endpoint(scope, path), status[0], start)

    def endpoint(self, scope: Scope, path: str) -> str:
        for prefix in self.mounts:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return prefix
        route = scope.get("route")
        return self.templates.get(id(route), UNMATCHED) if route is not None else UNMATCHED

    def allowed(self, scope: Scope) -> bool:
        if self.token is not None:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    scheme, _, presented = value.partition(b" ")
                    # RFC 6750 §2.1; the scheme is case-insensitive (RFC 9110 §11.1).
                    if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self.token):
                        return True
                    break
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(client_ip(Request(scope), self.trusted))
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    async def scrape(self, scope: Scope, send: Send) -> None:
        metrics.BATCH.flush()  # this worker's latest counts; the others' reach their files within FLUSH_S
        body = await run_in_threadpool(exposition, self.web.provider.keys)  # the key age reads the database
        headers = [*self.headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    @property
    def state(self) -> Any:
        """The Starlette application's state (``app.state.web``), as HotPaths gives it."""
        return self.app.state
