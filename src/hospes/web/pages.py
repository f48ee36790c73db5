"""Server-rendered pages (Jinja2), compiled once, autoescaped, in the request's language (templating.py).

Templates come from the operator's folder first (HOSPES_TEMPLATE_DIR), then the built-in ones;
docs/BRANDING.md lists what each template is given.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import HTMLResponse

from hospes import i18n
from hospes.templating import environment
from hospes.web import locale


class Pages:
    def __init__(self, *, issuer: str, issuer_path: str, company_name: str, logo: str | None = None,
                 template_dir: str | None = None) -> None:
        self.env = environment(template_dir)
        self.env.globals.update(
            issuer=issuer, base=issuer_path, company_name=company_name, year=date.today().year,
            # A served logo file's path is below the issuer; a URL is used as it is.
            logo=(issuer_path + logo if logo and logo.startswith("/") else logo),
        )

    def render(self, name: str, status: int = 200, headers: dict[str, str] | None = None,
               **context: Any) -> HTMLResponse:
        shown = {"lang": i18n.current(), "languages": locale.switch_links(), **context}
        html = self.env.get_template(name).render(**shown)
        return HTMLResponse(html, status_code=status, headers=headers)
