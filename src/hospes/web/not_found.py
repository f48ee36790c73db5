"""The site's own answers for a path it does not serve (404) or a method a path does not take (405), and
``/``, which leads to the client area."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hospes.web.context import Web

TITLES = {404: "Page not found", 405: "Method not allowed"}
MESSAGES = {404: "There is no page at this address.", 405: "This page does not take that kind of request."}


async def home(request: Request) -> Response:
    web: Web = request.app.state.web
    return RedirectResponse(f"{web.pages.env.globals['base']}/clientarea.php", status_code=302)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "html" not in accept


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (and any other HTTPException), as a page of the site, or as JSON for a caller
    that asks for JSON only (an API client)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    title = TITLES.get(status, "Something went wrong")
    if _wants_json(request):
        return JSONResponse({"error": title, "status": status}, status_code=status, headers=headers)
    web: Web = request.app.state.web
    return web.pages.render("error.html", status=status, headers=headers, heading=title,
                            message=MESSAGES.get(status, title), home_link=True)
