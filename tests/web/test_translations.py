"""The company's language: the German catalogue is complete and compiled, pages speak German when the
authorization request's ui_locales (OIDC Core §3.1.2.1) or the browser's Accept-Language asks for it, the switch
link remembers a choice, and a mail asked for from a German page is German (text and HTML)."""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from hospes import i18n
from hospes.accounts import service
from hospes.config import load_settings
from hospes.store import accounts as store_accounts
from hospes.web.clientarea.gate import STATUS_WORDS
from tests import mailbox
from tests.admin import admin_session
from tests.browserless import form_with, login_form

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "hospes" / "locale"
PO = LOCALE / "de" / "LC_MESSAGES" / "messages.po"
MO = LOCALE / "de" / "LC_MESSAGES" / "messages.mo"
BASE = "http://127.0.0.1:8000"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalogue() -> Any:
    with PO.open("rb") as f:
        return read_po(f)


# -- the catalogue ---------------------------------------------------------------------------------


def test_the_german_catalogue_has_no_untranslated_or_fuzzy_entry_and_keeps_every_placeholder():
    cat = catalogue()
    assert not cat.fuzzy
    entries = [m for m in cat if m.id]
    assert len(entries) > 300
    for m in entries:
        assert "fuzzy" not in m.flags, m.id
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"untranslated: {m.id!r}"
        # Every value the English text shows, the German shows too (a singular may say "one" instead of %(count)s).
        wanted = {name for i in ids for name in PLACEHOLDER.findall(i)}
        assert {name for s in strings for name in PLACEHOLDER.findall(s)} == wanted, (m.id, m.string)


def test_every_string_of_the_code_and_templates_is_in_the_catalogue(tmp_path):
    """What `make translations` would extract now: nothing the catalogue lacks (a new string was marked but not
    translated), nothing it keeps that the code no longer has."""
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "--quiet", "extract", "-F", "babel.cfg", "-k", "N_",
                    "--no-location", "-o", str(pot), "."], cwd=ROOT, check=True)
    with pot.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    have = {m.id for m in catalogue() if m.id}
    assert extracted - have == set(), "run `make translations` and translate the new strings"
    assert have - extracted == set(), "run `make translations`: the catalogue keeps strings the code dropped"


def test_the_committed_mo_file_is_the_compiled_po_file():
    compiled = io.BytesIO()
    write_mo(compiled, catalogue())
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    with MO.open("rb") as f:
        committed = gettext.GNUTranslations(f)
    assert committed._catalog == fresh._catalog  # type: ignore[attr-defined]


def test_every_status_the_client_area_shows_is_a_catalogue_word():
    shown = {*service.SERVICE_STATUSES, *service.DOMAIN_STATUSES, *service.INVOICE_STATUSES,
             *store_accounts.CLIENT_STATUSES, "Open"}
    assert shown <= set(STATUS_WORDS)
    with i18n.using("de"):
        assert all(i18n.gettext(w) != w or w in ("Domain", "Status") for w in STATUS_WORDS)


def test_language_negotiation():
    assert i18n.available() == ("en", "de")
    assert i18n.from_ui_locales("fr-CA de-AT en") == "de"
    assert i18n.from_ui_locales("fr") is None
    assert i18n.from_accept_language("fr;q=0.9, de-DE;q=0.8, en;q=0.7") == "de"
    assert i18n.from_accept_language("de;q=0, en-GB") == "en"
    assert i18n.from_accept_language("*") is None
    assert i18n.from_accept_language("de;q=nonsense, en") == "en"
    assert i18n.choose(None, "de", "en") == "de"
    with i18n.using("de"):
        assert i18n.gettext("Log in") == "Anmelden"
        assert i18n.ngettext("%(n)d minute", "%(n)d minutes", 2) % {"n": 2} == "2 Minuten"
    assert i18n.gettext("Log in") == "Log in"


# -- pages -----------------------------------------------------------------------------------------


def authz_url(cred: Any, **params: str) -> str:
    q = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
         "scope": "openid profile email", "state": "st", **params}
    return "/oauth/authorize.php?" + urlencode(q)


def page_text(r: Any) -> str:
    return BeautifulSoup(r.text, "html.parser").get_text(" ", strip=True)


def test_login_and_consent_pages_in_german_by_ui_locales(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    r = client.get(authz_url(cred, ui_locales="fr-CA de"), headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert '<html lang="de">' in r.text
    text = page_text(r)
    assert "Anmelden, um zu Example App fortzufahren" in text and "E-Mail-Adresse" in text
    assert "Log in" not in text
    # The login form carries the request (and its ui_locales) to the consent page, whatever the browser says.
    f = login_form(r.text, BASE + str(r.url.path))
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 200, r.text
    text = page_text(r)
    assert "Example App den Zugriff auf Ihr Konto erlauben" in text
    assert "Ihre E-Mail-Adresse sehen" in text and "Bestätigen, wer Sie sind" in text
    assert "Erlauben" in text and "Abbrechen" in text and "Authorise" not in text


def test_login_and_consent_pages_in_german_by_accept_language(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    german = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    r = client.get(authz_url(cred), headers=german)
    assert '<html lang="de">' in r.text and "Passwort vergessen?" in page_text(r)
    f = login_form(r.text, BASE + str(r.url.path))
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": "wrong"}, headers=german)
    assert r.status_code == 401
    assert "Anmeldedaten falsch. Bitte versuchen Sie es noch einmal." in page_text(r)
    f = login_form(r.text, BASE + str(r.url.path))
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password}, headers=german)
    assert "Example App den Zugriff auf Ihr Konto erlauben" in page_text(r)
    # An unsupported ui_locales leaves the browser's choice; English for a browser that asks for nothing we have.
    assert "Nicht Sie? Abmelden" in page_text(client.get(authz_url(cred, ui_locales="fr"), headers=german))
    plain = client.get(authz_url(cred), headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in plain.text and "Not you? Log out" in plain.text


def test_the_client_area_and_its_errors_in_german(client, make_account):
    acct = make_account(first_name="Jana")
    german = {"Accept-Language": "de"}
    r = client.get("/login", headers=german)
    f = login_form(r.text, BASE + "/login")
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password}, headers=german)
    assert r.status_code == 303
    home = page_text(client.get("/clientarea.php", headers=german))
    assert "Willkommen zurück, Jana" in home and "Kontoeinstellungen" in home and "Abmelden" in home
    sessions = page_text(client.get("/account/sessions", headers=german))
    assert "Ihre aktiven Sitzungen" in sessions and "Dieses Gerät" in sessions
    missing = client.get("/clientarea.php?action=productdetails&id=999999", headers=german)
    assert missing.status_code == 404 and "Dieser Dienst wurde in Ihrem Konto nicht gefunden." in page_text(missing)
    nowhere = client.get("/no/such/page", headers={**german, "Accept": "text/html"})
    assert nowhere.status_code == 404 and "Seite nicht gefunden" in page_text(nowhere)


def test_the_admin_area_in_german_by_accept_language_and_english_by_default(client, db, make_account,
                                                                           make_credential):
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    login = client.get("/admin/login", headers=german)
    assert '<html lang="de">' in login.text
    text = page_text(login)
    assert "Melden Sie sich mit Ihrem Mitarbeiter-Benutzernamen und Passwort an." in text
    assert "Benutzername" in text and "Zum Inhalt springen" in text and "Username" not in text
    assert BeautifulSoup(login.text, "html.parser").find("a", hreflang="en") is not None
    english = client.get("/admin/login")
    assert '<html lang="en">' in english.text and "Log in with your staff username and password." in english.text
    admin_session(client, db)
    listing = page_text(client.get("/admin/oauth", headers=german))
    assert "Neue Client-API-Zugangsdaten erzeugen" in listing and "Angemeldet als alice" in listing
    assert "Es gibt noch keine Client-API-Zugangsdaten." in listing and "Abmelden" in listing
    assert "Ressourcenserver" in listing and "Signaturschlüssel" in listing  # the navigation (Python, N_)
    assert "Generate New Client API Credentials" in page_text(client.get("/admin/oauth"))
    # Every other admin page renders in German too (its trans blocks and the handlers' words).
    pages = {"/admin/": "Administrationsbereich", "/admin/oauth/new": "Erlaubte Weiterleitungs-URIs",
             "/admin/resources/new": "Ressourcenserver hinzufügen", "/admin/api": "API-Rolle anlegen",
             "/admin/admins": "Administrator hinzufügen", "/admin/keys": "Schlüssel rotieren",
             "/admin/keys/rotate": "Sofort, für einen kompromittierten Schlüssel", "/admin/audit": "Ereignistyp",
             "/admin/clients": "Nach Name, E-Mail-Adresse oder Firma suchen"}
    acct, cred = make_account(), make_credential()
    pages[f"/admin/oauth/{cred.credential_id}"] = "Client-Geheimnis zurücksetzen"
    pages[f"/admin/users/{acct.user_id}"] = "Link zum Zurücksetzen des Passworts senden"
    pages[f"/admin/clients/{acct.client_id}"] = "Benutzer mit Zugang zu diesem Konto"
    for path, words in pages.items():
        r = client.get(path, headers=german)
        assert r.status_code == 200 and '<html lang="de">' in r.text and words in page_text(r), path


def test_the_switch_link_remembers_the_language(client):
    r = client.get("/password/reset", headers={"Accept-Language": "en"})
    link = BeautifulSoup(r.text, "html.parser").find("a", hreflang="de")
    assert link is not None and link.get_text() == "Deutsch"
    r = client.get(link["href"])
    assert r.status_code == 303 and r.headers["location"] == "/password/reset"
    assert client.cookies.get("hospes_lang") == "de"
    page = client.get("/password/reset", headers={"Accept-Language": "en"})
    assert "Passwort zurücksetzen" in page_text(page)
    back = BeautifulSoup(page.text, "html.parser").find("a", hreflang="en")
    assert back is not None and back.get_text() == "English"
    # No switch on a page whose address holds a secret: the link would copy it.
    assert 'hreflang' not in client.get("/password/reset/some-token-value").text
    # Never away from the site.
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = client.get("/language?" + urlencode({"to": "de", "next": target}))
        assert r.headers["location"] == "/clientarea.php"


def test_ui_locales_supported_in_discovery(client):
    assert client.get("/.well-known/openid-configuration").json()["ui_locales_supported"] == ["en", "de"]


# -- mail ------------------------------------------------------------------------------------------


def test_a_password_reset_mail_in_german_with_its_html_part(settings, db, smtp, make_account, tmp_path):
    from hospes.app import create_app

    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    configured = load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                               secret_key=settings.secret_key, smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
                               company_name="Müller & <Söhne>", logo=str(logo))
    acct = make_account(first_name="<b>Jörg</b>")
    with TestClient(create_app(configured), base_url=BASE, follow_redirects=False) as c:
        german = {"Accept-Language": "de"}
        page = c.get("/password/reset", headers=german)
        f = form_with(page.text, BASE + "/password/reset", "email")
        r = c.post(f.action, data={**f.fields, "email": acct.email}, headers=german)
        assert r.status_code == 200 and "Falls zu dieser Adresse ein Konto besteht" in page_text(r)
        [message] = smtp[0].wait(1)
    assert message.get_content_type() == "multipart/alternative"
    assert mailbox.header(message, "Subject") == "Ihr Müller & <Söhne>-Passwort zurücksetzen"
    text = mailbox.text(message).replace("\r\n", "\n")
    assert text.startswith("Hallo <b>Jörg</b>,\n\n")
    assert "Um ein neues Passwort zu wählen, öffnen Sie diesen Link innerhalb von 30 Minuten:" in text
    link = re.search(r"http://127\.0\.0\.1:8000/password/reset/\S+", text)
    assert link
    html = mailbox.part(message, "html")
    # The name the person chose and the company name are text, never markup.
    assert "<b>Jörg</b>" not in html and "&lt;b&gt;Jörg&lt;/b&gt;" in html
    assert "Müller &amp; &lt;Söhne&gt;" in html and "<Söhne>" not in html
    doc = BeautifulSoup(html, "html.parser")
    assert doc.html["lang"] == "de"
    img = doc.find("img", class_="brand-logo")
    assert img is not None and img["src"] == "http://127.0.0.1:8000/brand/logo.png"
    assert doc.find("a", string="Neues Passwort wählen")["href"] == link.group(0)
    assert "Der Link funktioniert einmal." in doc.get_text()
