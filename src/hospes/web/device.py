"""The device page, ``{issuer}/device`` (RFC 8628 §3.3): the person logs in, enters the code their device shows,
sees the authorization endpoint's consent page, and approves or denies. The rules are oauth/device.py's.

Logging in is the site's own login page with a way back here (web/login.py ``next``), second factor included.
Guessing codes is throttled per address and for the whole site (accounts/throttle.py, in the database, so across
workers and nodes): an attempt is admitted before its code is looked up, so a refused one tells nothing of
whether the code exists, and one that finds a pending request gives its places back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import sessions, throttle
from hospes.i18n import N_, _
from hospes.oauth import authorize as core
from hospes.oauth import device
from hospes.web.authorize import consent_page
from hospes.web.context import SESSION_COOKIE, Web, form_expired, web_of
from hospes.web.http import Params, first, query_params, read_form

# RFC 8628 §5.1: with 20**8 codes and a few hundred pending at once, these limits leave a guesser a chance
# of about 1 in 10**5 an hour across the site. Made at import, in every worker (throttle.py prunes by the
# longest window a process knows).
CODES_PER_ADDRESS = throttle.Rule("device_code_address", limit=10, window=900)
CODES_ANYWHERE = throttle.Rule("device_code", limit=1000, window=3600)
_EVERYWHERE = "all"

TOO_MANY = N_("Too many codes were tried. Please wait %(wait)s and try again.")
CLOSED = N_("Your account is closed, so it cannot connect devices.")


def _here(web: Web, user_code: str | None = None) -> str:
    path = web.path(device.PAGE_PATH)
    return f"{path}?user_code={quote(user_code, safe='')}" if user_code else path


def _to_login(web: Web, user_code: str | None = None) -> Response:
    """The site's login page, coming back here afterwards (with the code the device's link carried)."""
    back = _here(web, user_code[:20] if user_code else None)
    return RedirectResponse(f"{web.path('/login')}?next={quote(back, safe='')}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def _page(web: Web, request: Request, current: Any, *, user_code: str | None = None, error: str | None = None,
          status: int = 200) -> Response:
    """The code form; ``error``: an English message (marked N_), translated here."""
    return web.render_form(request, "device.html", status=status, action=web.path(device.PAGE_PATH),
                           user_code=user_code, error=_(error) if error else None, current=current)


def _done(web: Web, heading: str, message: str) -> Response:
    """A page that ends the device's visit; ``heading`` and ``message`` already in the person's language."""
    return web.pages.render("message.html", heading=heading, message=message)


def _session(web: Web, cookie: str | None) -> tuple[sessions.CurrentSession | None, bool]:
    """The person's session, and whether it may answer a device (oauth/device.py ``may_approve``)."""
    with web.provider.db.read() as s:
        current = sessions.current(s, cookie)
        return current, current is not None and device.may_approve(s, current)


async def page(request: Request) -> Response:
    web = web_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if request.method == "GET":
        entered = first(query_params(request), "user_code")
        current, may = await run_in_threadpool(_session, web, cookie)
        if current is None or (not may and core.acr_level(current.acr) < 1):
            return _to_login(web, entered)
        if not may:
            return _done(web, _("This account cannot connect devices"), _(CLOSED))
        normal = device.normalize(entered) if entered else None
        return _page(web, request, current, user_code=device.shown(normal) if normal else entered)
    form = await read_form(request, required=False)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    if first(form, "logout"):
        await run_in_threadpool(_end_session, web, cookie)
        response = _to_login(web)
        web.clear_cookie(response, SESSION_COOKIE)
        return response
    current, may = await run_in_threadpool(_session, web, cookie)
    if current is None or not may:
        return _to_login(web, first(form, "user_code"))
    decision = first(form, "userAuthorization")
    if decision in ("yes", "no"):
        return await _answer(web, request, form, current, decision == "yes")
    return await _enter(web, request, current, first(form, "user_code") or "")


def _end_session(web: Web, cookie: str | None) -> None:
    with web.provider.db.transaction() as s:
        sessions.end(s, cookie)


def _look_up(web: Web, user_code: str, current: sessions.CurrentSession,
             address: str) -> tuple[int, core.NeedConsent] | str | throttle.Admission:
    """The consent for the code's pending request, why there is none, or the refused admission (nothing looked up)."""
    with web.provider.db.transaction() as s:
        admission = throttle.admit(s, [(CODES_PER_ADDRESS, address), (CODES_ANYWHERE, _EVERYWHERE)])
        if admission.refused:
            return admission
        found = device.consent(web.provider, s, user_code, current)
        if not isinstance(found, str):
            throttle.release(s, admission)  # a code that names a pending request is no guess
        return found


async def _enter(web: Web, request: Request, current: sessions.CurrentSession, entered: str) -> Response:
    """The code the person typed: the consent page for its request, or the form again with what was wrong."""
    user_code = device.normalize(entered)
    if user_code is None:  # not a code at all: nothing looked up, nothing counted
        return _page(web, request, current, user_code=entered[:20], error=device.UNKNOWN, status=400)
    found = await run_in_threadpool(_look_up, web, user_code, current, web.ip(request))
    if isinstance(found, throttle.Admission):
        return _page(web, request, current, user_code=device.shown(user_code), status=429,
                     error=_(TOO_MANY) % {"wait": throttle.minutes(found.wait)})
    if isinstance(found, str):
        return _page(web, request, current, user_code=device.shown(user_code), error=found, status=400)
    device_code_id, out = found
    return _consent(web, request, out, current, device_code_id, user_code)


def _consent(web: Web, request: Request, out: core.NeedConsent, current: sessions.CurrentSession,
             device_code_id: int, user_code: str) -> Response:
    signed = web.sign("device", {"id": device_code_id, "sid": current.sid, "user_code": user_code})
    return consent_page(web, request, out, current, action=web.path(device.PAGE_PATH), request_hash=signed,
                        user_code=device.shown(user_code))


def _decide(web: Web, device_code_id: int, current: sessions.CurrentSession, yes: bool,
            accounts: list[str]) -> core.NeedConsent | str | None:
    try:
        with web.provider.db.transaction() as s:
            if yes:
                return device.approve(web.provider, s, device_code_id, current, accounts[:1000])
            return device.deny(s, device_code_id)
    except device.Unanswerable as exc:  # rolled back
        return exc.message


async def _answer(web: Web, request: Request, form: Params, current: sessions.CurrentSession,
                  yes: bool) -> Response:
    """The consent page posted back: approved or denied, for the session that saw the page."""
    data = web.unsign("device", first(form, "request_hash"))
    if data is None or not isinstance(data.get("id"), int) or not isinstance(data.get("user_code"), str):
        return _page(web, request, current, error=N_("That page has expired. Enter the code again."),
                     status=400)
    user_code = data["user_code"]
    if data.get("sid") != current.sid:
        # Another person logged in since the page was shown: the code again, for them.
        return _page(web, request, current, user_code=device.shown(user_code), status=400,
                     error=N_("You logged in again since that page was shown. Enter the code again."))
    out = await run_in_threadpool(_decide, web, data["id"], current, yes, form.get("account", []))
    if isinstance(out, core.NeedConsent):
        return _consent(web, request, out, current, data["id"], user_code)
    if isinstance(out, str):
        return _page(web, request, current, error=out, status=400)
    if yes:
        return _done(web, _("Your device is connected"),
                     _("%(company)s has told your device. You can close this page and go back to it.")
                     % {"company": web.settings.company_name})
    return _done(web, _("Access denied"), _("Your device was refused access. You can close this page."))
