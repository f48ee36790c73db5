"""The brand's own files: ``/brand.css`` (the colours as CSS custom properties, branding.py) and the logo
file the settings name (``/brand/logo.<ext>``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hospes import branding
from hospes.web.context import web_of

# Both change only with the settings (a restart); browsers may keep them an hour.
CACHE = "public, max-age=3600"


async def stylesheet(request: Request) -> Response:
    s = web_of(request).settings
    return Response(branding.stylesheet(s.brand_color, s.accent_color), media_type="text/css",
                    headers={"Cache-Control": CACHE})


def routes(logo: branding.Logo | None) -> list[BaseRoute]:
    found: list[BaseRoute] = [Route(branding.CSS_PATH, stylesheet)]
    if logo is not None and logo.file is not None:
        body = logo.file.read_bytes()  # read once: at most 1 MiB (branding.logo)
        media_type = branding.LOGO_TYPES[logo.file.suffix.lower()]

        async def logo_file(request: Request) -> Response:
            return Response(body, media_type=media_type, headers={"Cache-Control": CACHE})

        found.append(Route(logo.url, logo_file))
    return found
