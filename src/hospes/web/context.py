"""What every endpoint needs: the provider, the pages, the secret key, cookie settings."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from hospes.i18n import _
from hospes.oauth.provider import Provider
from hospes.store.unavailable import is_unavailable
from hospes.web import csrf, failures
from hospes.web.http import MalformedRequest, Params, client_ip
from hospes.web.pages import Pages
from hospes.web.security import security_headers

SESSION_COOKIE = "hospes_session"
# A browser that has logged in keeps a signed device value per login name (accounts/login.py).
DEVICE_COOKIE = "hospes_device"
DEVICE_MAX_AGE = 90 * 86400
# How long a login or consent page stays valid before the person must start again.
INTERACTION_MAX_AGE = 1800


@dataclass
class Web:
    provider: Provider
    pages: Pages
    secret_key: bytes

    def __post_init__(self) -> None:
        self._signer = URLSafeTimedSerializer(self.secret_key.decode(), salt="hospes.interaction")

    @property
    def settings(self) -> Any:
        return self.provider.settings

    # -- signed blobs carried through forms ---------------------------------------------------
    def sign(self, kind: str, data: dict[str, Any]) -> str:
        return self._signer.dumps({"k": kind, "d": data})

    def unsign(self, kind: str, value: str | None, max_age: int = INTERACTION_MAX_AGE) -> dict[str, Any] | None:
        if not value or len(value) > 16384:
            return None
        try:
            loaded = self._signer.loads(value, max_age=max_age)
        except BadSignature:
            return None
        if not isinstance(loaded, dict) or loaded.get("k") != kind:
            return None
        return loaded.get("d")

    # -- cookies ------------------------------------------------------------------------------
    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=self.settings.issuer_path or "/",
            secure=self.settings.secure_cookies, httponly=True, samesite="lax",
        )

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path=self.settings.issuer_path or "/",
                               secure=self.settings.secure_cookies, httponly=True, samesite="lax")

    def device(self, request: Request, login: str, cookie: str = DEVICE_COOKIE) -> str | None:
        """The device value this browser holds for ``login`` (a name as accounts.login.login_name makes it)."""
        data = self.unsign("device", request.cookies.get(cookie), max_age=DEVICE_MAX_AGE)
        if data is None or data.get("l") != _login_digest(login) or not isinstance(data.get("n"), str):
            return None
        return str(data["n"])

    def set_device(self, response: Response, login: str, value: str, *, cookie: str = DEVICE_COOKIE,
                   path: str | None = None, samesite: Literal["lax", "strict"] = "lax") -> None:
        """Let this browser keep its device value for ``login`` (see ``device``)."""
        signed = self.sign("device", {"l": _login_digest(login), "n": value})
        response.set_cookie(cookie, signed, max_age=DEVICE_MAX_AGE, path=path or self.settings.issuer_path or "/",
                            secure=self.settings.secure_cookies, httponly=True, samesite=samesite)

    def csrf_for(self, request: Request) -> tuple[str, str | None]:
        """The form token for this browser, and a new cookie value to set when it had none."""
        value = request.cookies.get(csrf.COOKIE)
        new = None
        if not value or len(value) > 100:
            value = new = csrf.new_cookie_value()
        return csrf.form_token(self.secret_key, value), new

    def csrf_ok(self, request: Request, token: str | None) -> bool:
        return csrf.valid(self.secret_key, request.cookies.get(csrf.COOKIE), token)

    def render_form(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A page with a form: carries the CSRF token, and sets its cookie when new."""
        token, new = self.csrf_for(request)
        response = self.pages.render(template, status=status, csrf=token, **context)
        if new:
            self.set_cookie(response, csrf.COOKIE, new)
        return response

    def ip(self, request: Request) -> str:
        return client_ip(request, self.settings.trusted_proxy_networks)

    def path(self, p: str) -> str:
        return self.settings.issuer_path + p


def _login_digest(login: str) -> str:
    """The login name a device cookie is for, as it is kept there: the cookie is signed, not encrypted, so it
    holds a digest rather than the email address itself."""
    return hashlib.sha256(login.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def web_of(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


# -- the answers every page shares ------------------------------------------------------------------


def form_expired(web: Web, request: Request, template: str = "error.html", **layout: Any) -> Response:
    """A form post without this browser's CSRF token (web/csrf.py): 403, nothing changed. ``template`` and
    ``layout`` put the same words in an area's own layout (the admin area's, the client area's)."""
    return web.render_form(request, template, status=403, heading=_("Form expired"), code="csrf_failed",
                           message=_("This form was not sent from this site, or it has expired. Nothing was changed."),
                           hint=_("Go back, reload the page and try again."), **layout)


async def unreadable_request(request: Request, exc: Exception) -> Response:
    """A query or form no page can read (web/http.py's ``MalformedRequest``): the page says so, 400 (413 for
    a body over the limit). Registered for every page in app.py."""
    status = exc.status_code if isinstance(exc, MalformedRequest) else 400
    description = exc.description if isinstance(exc, MalformedRequest) else None
    return web_of(request).pages.render(
        "error.html", status=status, heading=_("The request could not be read"),
        message=description or _("The request was not valid."), code="invalid_request",
        hint=_("Go back and try again."))


async def server_error(request: Request, exc: Exception) -> Response:
    """What a failure no handler expected answers (Starlette's ServerErrorMiddleware): the site's page, 503 with
    Retry-After when the database is unavailable, else 500; logged once here (web/failures.py), with the request
    id the page shows. That middleware sits outside every other, so the security headers are added here."""
    web = web_of(request)
    request_id = failures.report(request.method, request.url.path, exc)
    with contextlib.suppress(AttributeError):  # logged: HotPaths, which sees it raised again, does not log it
        exc.hospes_request_id = request_id  # type: ignore[attr-defined]
    if is_unavailable(exc):
        response = web.pages.render("error.html", status=503, heading=_("Temporarily unavailable"),
                                    message=_("The service cannot answer just now. Nothing was changed; try again "
                                            "in a moment."), code="temporarily_unavailable",
                                    hint=_("Reference: %(id)s") % {"id": request_id})
        response.headers["retry-after"] = failures.RETRY_AFTER
    else:
        response = web.pages.render("error.html", status=500, heading=_("Something went wrong"),
                                    message=_("The server could not answer this request. Try again in a moment."),
                                    code="server_error", hint=_("Reference: %(id)s") % {"id": request_id})
    for name, value in security_headers(web.settings.secure_cookies):
        response.headers[name.decode()] = value.decode()
    response.headers["cache-control"] = "no-store"
    response.headers["x-request-id"] = request_id
    return response


@dataclass
class PageCtx:
    """What a signed-in page handler gets (the admin area's and the client area's ``Ctx`` add who is
    signed in): the request, the parsed form and query, the caller's address."""

    request: Request
    web: Web
    form: Params
    query: Params
    ip: str

    @property
    def db(self) -> Any:
        return self.web.provider.db

    @property
    def settings(self) -> Any:
        return self.web.settings

    def path(self, p: str) -> str:
        return self.web.path(p)

