"""The company's own look (docs/BRANDING.md): the logo on every page, the colours through /brand.css, a folder of
templates that replaces built-in ones, and settings that refuse what is not a colour or an image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from hospes import branding
from hospes.config import ConfigError, load_settings
from tests.browserless import login_form

BASE = "http://127.0.0.1:8000"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def branded(settings: Any, **extra: Any) -> TestClient:
    from hospes.app import create_app

    configured = load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                               secret_key=settings.secret_key, **extra)
    return TestClient(create_app(configured), base_url=BASE, follow_redirects=False)


def logo_of(html: str) -> str | None:
    img = BeautifulSoup(html, "html.parser").select_one("header.site img.brand-logo")
    return img["src"] if img is not None else None


def test_colours_reach_the_pages_as_custom_properties(settings, db):
    with branded(settings, brand_color="#FFD700", accent_color="rgb(10 20 30)") as c:
        page = c.get("/login")
        assert '<link rel="stylesheet" href="/brand.css">' in page.text
        css = c.get("/brand.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--brand: #FFD700;" in css.text and "--focus: rgb(10 20 30);" in css.text
    # Gold is light: its buttons get dark text, whichever reads better (WCAG contrast).
    assert "--brand-contrast: #111827;" in css.text
    assert branding.text_on("#1d4ed8") == "#ffffff"


@pytest.mark.parametrize("bad", ["red", "#12345", "#1234567", "rgb(1, 2)", "#fff; } body { display: none",
                                 "url(https://evil.example/x)", "var(--x)", "expression(alert(1))"])
def test_a_colour_setting_must_be_a_colour(settings, bad):
    with pytest.raises(ConfigError, match="HOSPES_BRAND_COLOR"):
        load_settings(database_url=settings.database_url, brand_color=bad)


def test_a_logo_file_is_served_and_shown_on_every_page_and_the_admin_login(settings, db, make_account, tmp_path):
    logo = tmp_path / "acme.png"
    logo.write_bytes(PNG)
    acct = make_account()
    with branded(settings, logo=str(logo), company_name="Acme Hosting") as c:
        served = c.get("/brand/logo.png")
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        for path in ("/login", "/password/reset", "/admin/login", "/no/such/page"):
            r = c.get(path, headers={"Accept": "text/html"})
            assert logo_of(r.text) == "/brand/logo.png", path
        f = login_form(c.get("/login").text, BASE + "/login")
        c.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
        for path in ("/clientarea.php", "/clientarea.php?action=services", "/account/security", "/account/sessions"):
            r = c.get(path)
            assert r.status_code == 200 and logo_of(r.text) == "/brand/logo.png", path


def test_a_logo_url_is_used_as_it_is_and_no_logo_means_no_image(settings, db):
    with branded(settings, logo="https://cdn.example.com/acme.svg") as c:
        assert logo_of(c.get("/login").text) == "https://cdn.example.com/acme.svg"
        assert c.get("/brand/logo.svg").status_code == 404
    with branded(settings) as c:
        assert logo_of(c.get("/login").text) is None


def test_a_logo_setting_must_name_an_image(settings, tmp_path):
    script = tmp_path / "logo.js"
    script.write_text("alert(1)")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\0" * (branding.LOGO_MAX_BYTES + 1))
    for bad in (str(script), str(tmp_path / "missing.png"), str(huge), "javascript:alert(1)", "ftp://x/y.png"):
        with pytest.raises(ConfigError, match="HOSPES_LOGO"):
            load_settings(database_url=settings.database_url, logo=bad)


def test_a_template_folder_replaces_the_built_in_templates_it_has(settings, db, tmp_path: Path):
    folder = tmp_path / "templates"
    (folder / "account").mkdir(parents=True)
    (folder / "login.html").write_text(
        '{% extends "base.html" %}{% block title %}{{ _("Log in") }}{% endblock %}{% block content %}'
        '<h1 id="own-login">{{ company_name }}: {{ _("Log in") }}</h1>'
        '<form method="post" action="{{ action }}"><input type="hidden" name="token" value="{{ csrf }}">'
        '<label for="u">Email</label><input id="u" name="username"><label for="p">Password</label>'
        '<input id="p" name="password" type="password"><button>Go</button></form>{% endblock %}')
    # A page of its own that the built-in base.html wraps: the logo and the language still come with it.
    (folder / "base.html").write_text(
        (Path(__file__).resolve().parents[2] / "src/hospes/web/templates/base.html").read_text()
        .replace("<main id=\"main\" class=\"card\">", "<main id=\"main\" class=\"card own-base\">"))
    with branded(settings, template_dir=str(folder), company_name="Acme") as c:
        page = c.get("/login", headers={"Accept-Language": "de"})
        doc = BeautifulSoup(page.text, "html.parser")
        assert doc.find(id="own-login").get_text() == "Acme: Anmelden"
        assert doc.select_one("main.own-base") is not None
        # What the folder does not have stays built in (through the folder's base.html).
        reset = BeautifulSoup(c.get("/password/reset").text, "html.parser")
        assert reset.select_one("main.own-base") is not None and reset.find(id="send-reset-link") is not None
    with pytest.raises(ConfigError, match="HOSPES_TEMPLATE_DIR"):
        load_settings(database_url=settings.database_url, template_dir=str(tmp_path / "nowhere"))
