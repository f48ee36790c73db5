"""Every page a customer or a staff member meets, in a browser at 1280 and at 390 px (a phone): axe-core finds no
serious or critical violation, nothing is wider than the screen, the company's logo is in the header, and the
client area and the admin area have "Log out" there.

The pages are found by following links: from the client area's home page (a customer with a service, a domain,
an invoice, a ticket and a mail, each with long unbroken names), and from the admin dashboard (a full
administrator), every GET link on the site below them; so a page added later is visited too. Login, consent,
password reset and the error page are visited on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import expect

from hospes.accounts import service, tickets
from hospes.clock import now
from hospes.store.models import EmailMessage
from tests.admin import make_admin
from tests.browser.conftest import authorization_url, axe_serious, describe, log_in, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
LONG = "averyveryverylongunbrokenname" * 3
# Links not to follow: they end a session, leave the page's language, or only confirm (POST) elsewhere.
SKIP = ("/logout", "/admin/logout", "/language", "/static/", "/brand")
MAX_PAGES = 60


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    logo = tmp_path / "brand-logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="120" height="32" '
                    'fill="#0f766e"/></svg>')
    return {"HOSPES_LOGO": str(logo), "HOSPES_BRAND_COLOR": "#0f766e", "HOSPES_COMPANY_NAME": "Acme Hosting"}


@pytest.fixture
def filled(server: Any, db: Any, make_account: Any) -> Any:
    acct = make_account(email=f"{LONG[:40]}@example.com", first_name="Jane", last_name=LONG[:50])
    with db.transaction() as s:
        service.add_service(s, client_id=acct.client_id, product="Managed " + LONG, domain=LONG[:60] + ".example")
        service.add_domain(s, client_id=acct.client_id, domain=LONG[:60] + ".example", expires_on=date(2030, 1, 1))
        service.add_invoice(s, client_id=acct.client_id, total="1234567.89")
        tickets.open_ticket(s, acct.client_id, subject="Help with " + LONG, message="Please " + LONG,
                            actor=f"user:{acct.user_id}")
        s.add(EmailMessage(client_id=acct.client_id, to_address=acct.email, subject="Welcome " + LONG,
                           body="Hello " + LONG, sent_at=now()))
    make_admin(db)
    return acct


@pytest.fixture
def sized(browser: Any) -> Iterator[Any]:
    """A page factory: a fresh browser context of the given width."""
    made: list[Any] = []

    def new(width: int) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
        ctx.set_default_timeout(30_000)
        made.append(ctx)
        return ctx.new_page()

    yield new
    for ctx in made:
        ctx.close()


class Findings:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen: list[str] = []

    def check(self, page: Any, name: str, width: int, *, header_logout: bool = False) -> None:
        self.seen.append(f"{width}: {name}")
        violations = axe_serious(page)
        if violations:
            self.problems.append(f"== {width}px {name}\n{describe(violations)}")
        if width <= 390:
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > width:
                screenshot(page, f"too-wide-{width}-{name.strip('/').replace('/', '_').replace('?', '_')}"[:120])
                widest = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                    .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                   (e.className ? '.' + String(e.className).replace(/ /g, '.') : ''))""")
                self.problems.append(f"== {width}px {name}: {wide}px wide ({', '.join(widest)})")
        if page.locator("header.site img.brand-logo").count() != 1:
            self.problems.append(f"== {width}px {name}: no logo in the header")
        if header_logout and page.locator("header.site").get_by_role("button", name="Log out").count() != 1:
            self.problems.append(f"== {width}px {name}: no Log out in the header")


def crawl(page: Any, server: Any, start: str, below: tuple[str, ...], findings: Findings, width: int) -> None:
    """Visit ``start`` and every same-site GET link under ``below`` found on the pages visited."""
    origin = server.url
    queue, seen = [start], {start}
    while queue and len(seen) <= MAX_PAGES:
        path = queue.pop(0)
        response = page.goto(origin + path)
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"
        findings.check(page, path, width, header_logout=True)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urldefrag(href)[0]
            if not url.startswith(origin + "/"):
                continue
            rest = url[len(origin):]
            target = urlsplit(rest)
            # A link with download or to a file (the audit log's CSV export) is not a page.
            if (not target.path.startswith(below) or any(target.path.startswith(p) for p in SKIP)
                    or "format=csv" in target.query or rest in seen):
                continue
            seen.add(rest)
            queue.append(rest)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe_and_fits_the_screen(sized, server, filled, credential, rp, width):
    findings = Findings()
    page = sized(width)

    page.goto(server.url + "/login")
    findings.check(page, "/login", width)
    page.goto(server.url + "/password/reset")
    findings.check(page, "/password/reset", width)
    page.goto(server.url + "/no/such/page")
    findings.check(page, "404 page", width)

    # The authorization flow's own pages: login (with an error), then consent.
    page.goto(authorization_url(server, credential, prompt="consent").url)
    findings.check(page, "authorization login", width)
    log_in(page, filled.email, "wrong password")
    expect(page.get_by_role("alert")).to_be_visible()
    findings.check(page, "authorization login with an error", width)
    log_in(page, filled.email, PASSWORD)
    expect(page.get_by_role("button", name="Authorise", exact=True)).to_be_visible()
    findings.check(page, "consent", width)
    page.get_by_role("button", name="Authorise", exact=True).click()
    page.wait_for_url(lambda url: url.startswith(rp.redirect_uri))

    crawl(page, server, "/clientarea.php", ("/clientarea.php", "/account/", "/supporttickets.php",
                                            "/submitticket.php"), findings, width)

    page.goto(server.url + "/admin/login")
    findings.check(page, "/admin/login", width)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("navigation", name="Admin area")).to_be_visible()
    crawl(page, server, "/admin", ("/admin",), findings, width)

    visited = "\n".join(findings.seen)
    for must in ("/clientarea.php?action=services", "/account/sessions", "/account/security", "/supporttickets.php",
                 "/admin/clients", "/admin/audit", "/admin/oauth"):
        assert must in visited, f"the crawl did not reach {must}:\n{visited}"
    assert not findings.problems, "\n".join(findings.problems)
