"""Server-rendered pages (Jinja2), compiled once, autoescaped."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"


class Pages:
    def __init__(self, *, issuer: str, issuer_path: str, company_name: str) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
            auto_reload=False, trim_blocks=True, lstrip_blocks=True,
        )
        self.env.globals.update(
            issuer=issuer, base=issuer_path, company_name=company_name, year=date.today().year,
        )

    def render(self, name: str, status: int = 200, headers: dict[str, str] | None = None,
               **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=headers)
