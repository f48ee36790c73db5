"""The site's own answers for a path it does not serve (404) or a method a path does not take (405), and
``/``, which leads to the client area.

Each in the form the caller reads: a page of the site for a browser; for a relying party calling a protocol
path (under /oauth/ or /.well-known/) the JSON error the endpoints themselves answer (RFC 6749 §5.2); for
an admin API client at /includes/api.php WHMCS's result/message envelope."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hospes.adminapi import envelope
from hospes.i18n import N_, _
from hospes.oauth import errors
from hospes.web.clientarea.gate import HOME
from hospes.web.context import Web, web_of
from hospes.web.http import NO_STORE

TITLES = {404: N_("Page not found"), 405: N_("Method not allowed")}
MESSAGES = {404: N_("There is no page at this address."), 405: N_("This page does not take that kind of request.")}
# For a program: node-oidc-provider answers an unknown route or method with invalid_request too
# (lib/helpers/initialize_app.js, "unrecognized route or not allowed method").
DESCRIPTIONS = {404: "Nothing is served at this path.", 405: "This path does not take this method."}
# The paths programs call: a browser asking for a page there still gets one.
PROTOCOL_PREFIXES = ("/oauth/", "/.well-known/")
ADMIN_API = "/includes/api.php"


async def home(request: Request) -> Response:
    return RedirectResponse(web_of(request).path(HOME), status_code=302)


def protocol_error(status: int) -> dict[str, str]:
    """The JSON body of an unknown path or method for a program (also HotPaths' 405)."""
    return errors.InvalidRequest(DESCRIPTIONS.get(status, "The request could not be answered.")).as_dict()


def _form(request: Request, prefix: str) -> str:
    """What this caller reads: "whmcs", "json" or "page"."""
    path = request.url.path
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix):]
    if path == ADMIN_API:
        return "whmcs"
    accept = request.headers.get("accept", "")
    if "html" in accept:
        return "page"
    return "json" if "json" in accept or path.startswith(PROTOCOL_PREFIXES) else "page"


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (and any other HTTPException), in the form of the path and the caller."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers: dict[str, Any] = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    web: Web = request.app.state.web
    form = _form(request, web.settings.issuer_path)
    if form == "whmcs":
        body, ctype = envelope.render(envelope.error(DESCRIPTIONS.get(status, "Invalid request")), "json")
        return Response(body, status_code=status, media_type=ctype, headers={**headers, **NO_STORE})
    if form == "json":
        return JSONResponse(protocol_error(status), status_code=status, headers={**headers, **NO_STORE})
    title = _(TITLES.get(status, N_("Something went wrong")))
    return web.pages.render("error.html", status=status, headers=headers, heading=title,
                            message=_(MESSAGES[status]) if status in MESSAGES else title, home_link=True,
                            # The same page at every path (/metrics refused looks like any 404): no switch link,
                            # which would name the path.
                            languages=[])
