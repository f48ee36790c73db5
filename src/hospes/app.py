"""Builds the ASGI application: routes and middleware, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hospes import metrics
from hospes.api import metadata
from hospes.config import Settings, ensure_secret_key, load_settings
from hospes.oauth import backchannel
from hospes.oauth.grants import built_in
from hospes.oauth.grants.base import Grants
from hospes.oauth.provider import Provider
from hospes.sso.grant import SingleSignOnGrant
from hospes.store import purge
from hospes.store.db import Database
from hospes.web import (
    account,
    admin,
    adminapi,
    authorize,
    brand,
    clientarea,
    device,
    health,
    login,
    logout,
    not_found,
    oauth_endpoints,
    registration,
    sso,
)
from hospes.web.api import CustomerApi, protected_resource_metadata
from hospes.web.context import Web, server_error, unreadable_request
from hospes.web.http import MalformedRequest
from hospes.web.locale import SWITCH_PATH, Language, switch
from hospes.web.mcp import McpServer
from hospes.web.metrics import Metered
from hospes.web.pages import Pages
from hospes.web.security import RequestLog, SecurityHeaders

STATIC = Path(__file__).parent / "web" / "static"


def hot_paths() -> dict[str, tuple[frozenset[str], oauth_endpoints.Handler]]:
    """The endpoints relying parties call on every request, answered before the router (see oauth_endpoints)."""
    o = oauth_endpoints
    return {
        # Discovery: WHMCS's path (https://docs.whmcs.com/system/authentication/openid-connect-development/)
        # and the standard ones (OpenID Connect Discovery §4, RFC 8414 §3).
        "/oauth/openid-configuration.php": (o.GET, o.discovery),
        "/.well-known/openid-configuration": (o.GET, o.discovery),
        "/.well-known/oauth-authorization-server": (o.GET, o.discovery),
        "/oauth/token.php": (o.GET_POST, o.token_endpoint),
        "/oauth/token": (o.GET_POST, o.token_endpoint),
        "/oauth/userinfo.php": (o.GET_POST, o.userinfo_endpoint),
        "/oauth/userinfo": (o.GET_POST, o.userinfo_endpoint),
        "/oauth/certs.php": (o.GET, o.jwks),
        "/oauth/jwks": (o.GET, o.jwks),
        "/oauth/revoke": (o.GET_POST, o.revocation_endpoint),
        "/oauth/introspect": (o.GET_POST, o.introspection_endpoint),
        "/oauth/device_authorization": (o.GET_POST, o.device_authorization_endpoint),  # RFC 8628 §3.1
        "/oauth/par": (o.POST, o.par_endpoint),
    }


def grants() -> Grants:
    """The grants the token endpoint offers: OAuth 2's own, and WHMCS's single sign-on."""
    return Grants([*built_in(), SingleSignOnGrant()])


def routes(settings: Settings | None = None) -> list[BaseRoute]:
    get_post = ["GET", "POST"]
    return [
        Route("/", not_found.home),
        Route("/oauth/authorize.php", authorize.authorize, methods=get_post),
        Route("/oauth/authorize", authorize.authorize, methods=get_post),
        Route("/oauth/logout", logout.end_session, methods=get_post),
        # Dynamic client registration (RFC 7591) and its management (RFC 7592).
        Route("/oauth/register", registration.register, methods=["POST", "OPTIONS"]),
        Route("/oauth/register/{client_id}", registration.manage, methods=["GET", "PUT", "DELETE", "OPTIONS"]),
        Route("/oauth/singlesignon.php", sso.redeem),
        Route("/includes/api.php", adminapi.api, methods=get_post),
        *clientarea.routes(),  # /clientarea.php, /supporttickets.php, /submitticket.php, /account/sso|users
        *account.routes(),  # /account/applications|security|sessions|password, /password/reset
        Route("/login", login.login, methods=get_post),
        Route("/device", device.page, methods=get_post),  # RFC 8628 §3.3 verification_uri
        Route("/logout", login.logout, methods=["POST"]),
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Mount("/admin", routes=admin.routes()),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        # The company's colours and logo (docs/BRANDING.md), and the language switch (web/locale.py).
        *brand.routes(settings.brand_logo if settings is not None else None),
        Route(SWITCH_PATH, switch),
    ]


def create_app(settings: Settings | None = None) -> oauth_endpoints.HotPaths | Metered:
    settings = settings or load_settings()
    secret = ensure_secret_key(settings).encode()
    db = Database(settings.sqlalchemy_url, settings.db_timeout)
    provider = Provider(settings, db, grants())
    logo = settings.brand_logo
    pages = Pages(issuer=settings.issuer, issuer_path=settings.issuer_path, company_name=settings.company_name,
                  logo=logo.url if logo else None, template_dir=settings.template_dir)
    web = Web(provider=provider, pages=pages, secret_key=secret)
    mcp = McpServer(web)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(provider.keys.ensure)  # creates what is missing, then loads the keys
        stop = asyncio.Event()
        purging = None
        if settings.purge_interval:
            purging = asyncio.create_task(purge.keep_purging(
                db, interval=settings.purge_interval, grace=timedelta(seconds=settings.purge_grace),
                batch=settings.purge_batch, stop=stop,
                unused=timedelta(days=settings.registration_unused_days), audit_kept=settings.audit_retention))
        # Back-channel logout tokens, delivered by every worker (oauth/backchannel.py claims each once).
        delivering = asyncio.create_task(backchannel.keep_delivering(db, provider.keys, settings.issuer, stop=stop))
        async with mcp.running():
            yield
        stop.set()
        if purging is not None:
            await purging  # ends after the batch it runs, if any
        await delivering
        await db.aclose()
        db.dispose()

    prefix = settings.issuer_path
    # RFC 9728 §3.1: the customer API's and the MCP server's metadata, the well-known suffix between the host and
    # the resource's path (at the host's root even with an issuer path).
    resource_metadata = [Route(metadata.metadata_path(settings.issuer, base), protected_resource_metadata)
                         for base in (metadata.BASE, metadata.MCP)]
    # With an issuer path, "/" at the host's root leads to the client area too.
    served = routes(settings)
    app_routes: list[BaseRoute] = ([Route("/", not_found.home), *resource_metadata, Mount(prefix, routes=served)]
                                   if prefix else [*resource_metadata, *served])
    # A line per request (HOSPES_ACCESS_LOG, or JSON logs): written by HotPaths for its own answers and mounts, by
    # SecurityHeaders for Starlette's.
    request_log = (RequestLog(json=settings.log_format == "json", trusted=settings.trusted_proxy_networks)
                   if settings.request_log else None)
    app = Starlette(
        routes=app_routes,
        middleware=[Middleware(SecurityHeaders, https=settings.secure_cookies, request_log=request_log),
                    Middleware(Language)],
        # A query or form no page can read is a 400 page wherever it is read; a path or method the site does
        # not serve, its own 404 or 405 page; anything else unexpected, a 500 page that still carries the
        # security headers.
        exception_handlers={MalformedRequest: unreadable_request, HTTPException: not_found.http_error,
                            Exception: server_error},
        lifespan=lifespan,
    )
    app.state.web = web
    # The hot paths are answered before Starlette: its error middleware alone wraps every send.
    hot = oauth_endpoints.HotPaths(app, web=web, table=hot_paths(), https=settings.secure_cookies,
                                 request_log=request_log,
                                 # the customer API (web/api.py) and the MCP server (web/mcp.py)
                                 mounts={"/api/v1": CustomerApi(web), "/mcp": mcp})
    # /metrics and the count of every request (web/metrics.py), outermost; HOSPES_METRICS=off: not even built,
    # and nothing timed or counted.
    metrics.turn(settings.metrics_networks is not None)
    return hot if settings.metrics_networks is None else Metered(hot, web=web, routes=app_routes)
