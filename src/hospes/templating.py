"""The one Jinja environment pages (web/pages.py) and HTML mails (mail.py) render in: autoescaped, translated
through hospes/i18n.py (Jinja's i18n extension: ``{% trans %}`` blocks and new-style ``_()``, which escapes
its arguments), and reading the operator's template folder (HOSPES_TEMPLATE_DIR) before the built-in
templates, so a file there replaces the built-in one of the same name (docs/BRANDING.md)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from hospes import i18n

TEMPLATES = Path(__file__).parent / "web" / "templates"


def environment(template_dir: str | None = None) -> Environment:
    built_in = FileSystemLoader(TEMPLATES)
    loader: BaseLoader = ChoiceLoader([FileSystemLoader(template_dir), built_in]) if template_dir else built_in
    env = Environment(
        loader=loader, autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False, trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"],
    )
    # The catalogue's msgids have their whitespace collapsed (pybabel extracts them so too).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext)
    return env
