"""Which language a request is answered in (hospes/i18n.py holds the catalogues), and the switch link.

In order: a language the person picked with the switch link (a cookie), the authorization request's
``ui_locales`` (OIDC Core §3.1.2.1; carried with the request to the login, second-factor and consent pages),
the browser's Accept-Language, English. The admin area chooses the same way.
"""

from __future__ import annotations

from contextvars import ContextVar
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hospes import i18n
from hospes.web.http import first, query_params
from hospes.web.security import SECRET_PATHS

COOKIE = "hospes_lang"
COOKIE_MAX_AGE = 365 * 86400
SWITCH_PATH = "/language"
# Where the switch link sends the person back to: this page, when it can be fetched again (a GET).
_here: ContextVar[str | None] = ContextVar("hospes_here", default=None)


def _chosen(cookie: str | None, ui_locales: str | None, accept_language: str | None) -> str:
    return i18n.choose(cookie, i18n.from_ui_locales(ui_locales), i18n.from_accept_language(accept_language))


def prefer(request: Request, ui_locales: str | None) -> None:
    """An authorization request's ui_locales, once the request is known (they rank below the person's pick)."""
    if ui_locales:
        i18n.use(_chosen(request.cookies.get(COOKIE), ui_locales, request.headers.get("accept-language")))


def switch_links() -> list[tuple[str, str, str]]:
    """(language, its own name, link) for each language but the current one, on a page that can be reloaded."""
    here = _here.get()
    if here is None:
        return []
    return [(code, i18n.language_name(code), f"{SWITCH_PATH}?to={code}&next={quote(here, safe='')}")
            for code in i18n.available() if code != i18n.current()]


class Language:
    """Pure ASGI: sets the request's language before any page renders."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            headers = {k: v for k, v in scope["headers"] if k in (b"cookie", b"accept-language")}
            cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"))
            i18n.use(_chosen(cookie, None, headers.get(b"accept-language", b"").decode("latin-1")))
            query = scope.get("query_string", b"").decode("latin-1")
            # No switch on a page whose address holds a secret (a reset link, a token in the query): the
            # link would copy it into another address.
            secret = "token" in query or any(p in path for p in SECRET_PATHS)
            _here.set(scope.get("root_path", "") + path + ("?" + query if query else "")
                      if scope["method"] == "GET" and len(query) < 4096 and not secret else None)
        await self.app(scope, receive, send)


def _cookie(header: str) -> str | None:
    if COOKIE not in header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 (a malformed header is simply no choice)
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _local(target: str | None) -> bool:
    """A path on this site (never another host: ``//host`` or ``/\\host`` would leave it)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and all(c not in target for c in "\r\n")


async def switch(request: Request) -> Response:
    """GET /language?to=de&next=/path: remember the language in a cookie and go back to the page."""
    from hospes.web.context import web_of  # context imports pages, which imports this module

    web = web_of(request)
    q = query_params(request)
    to, back = first(q, "to"), first(q, "next")
    if not _local(back) or back is None or not back.startswith(web.settings.issuer_path + "/"):
        back = web.path("/clientarea.php")
    response = RedirectResponse(back, status_code=303)
    if to in i18n.available():
        web.set_cookie(response, COOKIE, to, max_age=COOKIE_MAX_AGE)
    return response
