"""The authorization endpoint and its pages: login, consent, "not you?", errors, form_post."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hospes.accounts import login as accounts_login
from hospes.accounts import sessions, throttle
from hospes.i18n import N_, _
from hospes.oauth import authorize as core
from hospes.oauth import errors, metadata_documents, par, redirects, request_object
from hospes.oauth.scopes import SCOPES
from hospes.web import locale
from hospes.web.account import second_factor
from hospes.web.context import SESSION_COOKIE, Web, form_expired, web_of
from hospes.web.http import Params, add_params, first, query_params, read_form
from hospes.web.login import check_password, keep_device
from hospes.web.security import csp_with_form_targets


def _error_page(web: Web, exc: errors.InvalidRedirect) -> Response:
    return web.pages.render(
        "error.html", status=400, heading=_("This sign-in link is not valid"), message=_(exc.description),
        code=exc.error, hint=_("Return to the application you came from and try again. If this keeps happening, the "
                                "application's settings at %(company)s need attention.")
        % {"company": web.settings.company_name},
    )


def _expired_page(web: Web) -> Response:
    return web.pages.render(
        "error.html", status=400, heading=_("This page has expired"),
        message=_("The sign-in request has expired or was not sent from this page."),
        code="invalid_request", hint=_("Return to the application and start again."),
    )


def deliver(web: Web, redirect_uri: str, mode: str, params: dict[str, str]) -> Response:
    """Send the authorization response to the client (RFC 6749 §4.1.2; OAuth 2.0 Form Post)."""
    if mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        target = urlsplit(redirect_uri)
        origin = f"{target.scheme}://{target.netloc}" if target.netloc else redirect_uri
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; form-action {origin}; "
               "frame-ancestors 'none'; base-uri 'none'")
        return web.pages.render("form_post.html", action=redirect_uri, params=params, nonce=nonce,
                                headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})
    return RedirectResponse(add_params(redirect_uri, params), status_code=303,
                            headers={"Cache-Control": "no-store"})


def _deliver_error(web: Web, exc: core.AuthorizationError) -> Response:
    return deliver(web, exc.redirect_uri, exc.response_mode, core.error_params(web.provider, exc))


def _back_to_app(req: core.AuthorizationRequest) -> dict[str, str]:
    """Headers for a page whose form may answer with a redirect to the application (security.py)."""
    return {"Content-Security-Policy": csp_with_form_targets(req.redirect_uri)}


def _login_page(web: Web, request: Request, req: core.AuthorizationRequest, *, error: str | None = None,
                username: str | None = None, status: int = 200) -> Response:
    return web.render_form(
        request, "login.html", status=status, headers=_back_to_app(req), action=web.path("/oauth/authorize.php"),
        request_hash=web.sign("authz", req.to_dict()), app_name=req.client_name, app_logo=req.logo_uri,
        error=error, username=username if username is not None else (req.login_hint or ""),
    )


def _return_host(redirect_uri: str) -> str:
    """Where the browser goes afterwards, as a person recognises it: the host (a native app's scheme)."""
    parts = urlsplit(redirect_uri)
    return parts.hostname or parts.scheme


def _on_this_computer(redirect_uri: str) -> bool:
    """A redirect to a loopback address or a private-use scheme: a native app on the person's own computer
    (RFC 8252 §7.1, §7.3)."""
    parts = urlsplit(redirect_uri)
    return (redirects.loopback_without_port(redirect_uri) is not None or parts.hostname == "localhost"
            or parts.scheme not in ("http", "https"))


def _document_host(req: core.AuthorizationRequest) -> str | None:
    """The host that serves the client's metadata document (its client_id), for a client that introduced
    itself that way: all the page knows of who it is."""
    if req.client_kind != metadata_documents.KIND:
        return None
    return urlsplit(req.client_id).hostname


def consent_page(web: Web, request: Request, out: core.NeedConsent, current: Any, *, action: str, request_hash: str,
                 user_code: str | None = None) -> Response:
    """The consent page (templates/consent.html) for ``out``, posting ``request_hash`` back to ``action``: the
    authorization endpoint's, or the device page's (web/device.py, ``user_code`` the code the device shows)."""
    req = out.request
    changes = [SCOPES[s].consent_text for s in out.scopes if s in SCOPES and SCOPES[s].api_access == "write"]
    device = user_code is not None
    return web.render_form(
        request, "consent.html", status=400 if out.problem else 200,
        headers=None if device else _back_to_app(req), action=action, request_hash=request_hash,
        app_name=req.client_name, app_logo=req.logo_uri, return_host=_return_host(req.redirect_uri),
        permissions=out.permissions, changes=changes, scopes=out.scopes, current=current, accounts=out.accounts,
        problem=_(out.problem) if out.problem else None, unverified=req.client_kind != "admin",
        document_host=_document_host(req),
        on_this_computer=not device and _on_this_computer(req.redirect_uri), resource=out.resource,
        device=device, user_code=user_code,
    )


def _consent_page(web: Web, request: Request, out: core.NeedConsent, current: Any) -> Response:
    return consent_page(web, request, out, current, action=web.path("/oauth/authorize.php"),
                        request_hash=web.sign("authz", out.request.to_dict()))


def _outcome_response(web: Web, request: Request, out: core.Outcome, current: Any) -> Response:
    if isinstance(out, core.NeedLogin):
        return _login_page(web, request, out.request)
    if isinstance(out, core.NeedConsent):
        return _consent_page(web, request, out, current)
    return deliver(web, out.redirect_uri, out.response_mode, out.params)


# Metadata documents fetched for one address (a new client, or one whose copy is stale) in an hour. Made at
# import, in every worker (accounts/throttle.py prunes by the longest window a process knows).
DOCUMENT_FETCHES = throttle.Rule("metadata_document", limit=30, window=3600)


def _start(web: Web, params: Params, session_token: str | None, address: str) -> tuple[core.Outcome, Any]:
    p = web.provider
    # A client_id that is a metadata document's URL: fetched (when not fresh) before any transaction.
    metadata_documents.introduce(p, params.get("client_id"),
                                 lambda s: throttle.admit(s, [(DOCUMENT_FETCHES, address)]).wait)
    pushed = par.names_pushed_request(params)
    if pushed:
        # RFC 9126 §4: the pushed request replaces the query (but its client_id), used up in a transaction of
        # its own.
        with p.db.transaction() as s:
            params = par.redeem(s, params)
    elif request_object.carried(params):
        # RFC 9101 §6.3: the request object's parameters replace the query's (the client's keys may be fetched).
        params = request_object.unpack(p, params)
    # Without a session cookie the answer is a login page or an error: nothing to write, no write lock.
    with p.db.transaction() if session_token else p.db.read() as s:
        req = core.parse_request(p, s, params, pushed=pushed)
        current = sessions.current(s, session_token)
        return core.decide(p, s, req, current), current


async def authorize(request: Request) -> Response:
    web = web_of(request)
    try:
        if request.method == "POST":
            form = await read_form(request, required=False)
            if "request_hash" in form:
                return await _interaction(web, request, form)
            params = form  # OpenID Connect Core §3.1.2.1: the request may come as a form post.
        else:
            params = query_params(request)
        # OIDC Core §3.1.2.1: the pages of this request in the language the client asked for, if Hospes has it.
        locale.prefer(request, first(params, "ui_locales"))
        out, current = await run_in_threadpool(_start, web, params, request.cookies.get(SESSION_COOKIE),
                                              web.ip(request))
    except errors.InvalidRedirect as exc:
        return _error_page(web, exc)
    except core.AuthorizationError as exc:
        return _deliver_error(web, exc)
    except errors.OAuthError as exc:
        return _error_page(web, errors.InvalidRedirect(exc.error, exc.description))
    return _outcome_response(web, request, out, current)


def _still_valid(web: Web, req: core.AuthorizationRequest) -> bool:
    with web.provider.db.read() as s:
        return core.still_registered(s, req)


async def _interaction(web: Web, request: Request, form: Params) -> Response:
    data = web.unsign("authz", first(form, "request_hash"))
    if data is None:
        return _expired_page(web)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    try:
        req = core.AuthorizationRequest.from_dict(data)
    except TypeError:
        return _expired_page(web)
    locale.prefer(request, req.ui_locales)
    if not await run_in_threadpool(_still_valid, web, req):
        gone = N_("This application is no longer registered.")
        return _error_page(web, errors.InvalidRedirect("invalid_client", gone))
    cookie = request.cookies.get(SESSION_COOKIE)

    if first(form, "login_declined") or first(form, "return_to_app"):
        return _deliver_error(web, core.deny(web.provider, req))
    if first(form, "logout"):
        await run_in_threadpool(_end_session, web, cookie)
        response = _login_page(web, request, req)
        web.clear_cookie(response, SESSION_COOKIE)
        return response
    if second_factor.FIELD in form:
        return await _second_factor(web, request, req, form)
    if "username" in form or "password" in form:
        return await _login(web, request, req, form)
    decision = first(form, "userAuthorization")
    if decision in ("yes", "no"):
        return await _consent(web, request, req, cookie, decision == "yes", form.get("account", []))
    return _expired_page(web)


def _end_session(web: Web, cookie: str | None) -> None:
    with web.provider.db.transaction() as s:
        sessions.end(s, cookie)


def _decide(web: Web, req: core.AuthorizationRequest, s: Session,
            current: sessions.CurrentSession) -> tuple[core.Outcome | core.AuthorizationError, Any]:
    """The authorization request's next step for a session just started (decide raises before it writes)."""
    try:
        return core.decide(web.provider, s, req.with_login(current.sid), current), current
    except core.AuthorizationError as exc:
        return exc, current


def _continue(web: Web, req: core.AuthorizationRequest,
              token: str) -> tuple[core.Outcome | core.AuthorizationError, Any]:
    with web.provider.db.transaction() as s:
        current = sessions.current(s, token)
        if current is None:
            raise RuntimeError("a session just created cannot be read")
        return _decide(web, req, s, current)


async def _login(web: Web, request: Request, req: core.AuthorizationRequest, form: Params) -> Response:
    email = (first(form, "username") or "")[:255]
    password = first(form, "password") or ""
    if not email or not password:
        return _login_page(web, request, req, error=_("Enter your email address and password."), username=email,
                           status=400)
    out = await check_password(web, request, email, password, lambda s, current: _decide(web, req, s, current))
    if isinstance(out, accounts_login.Throttled):
        return _login_page(web, request, req, status=429, username=email,
                           error=accounts_login.throttled_message(out.wait))
    if isinstance(out, accounts_login.Wrong):
        return _login_page(web, request, req, error=_(accounts_login.INCORRECT), username=email, status=401)
    if isinstance(out, accounts_login.SecondFactorDue):
        response = _second_factor_page(web, request, req, second_factor.pending(web, request, out.user_id))
    else:
        response = await _logged_in(web, request, req, out.token, decided=out.then)
    keep_device(web, response, email, out)
    return response


def _second_factor_page(web: Web, request: Request, req: core.AuthorizationRequest, blob: str,
                        error: str | None = None, status: int = 200) -> Response:
    response = second_factor.page(web, request, action=web.path("/oauth/authorize.php"), blob=blob,
                                  hidden={"request_hash": web.sign("authz", req.to_dict())}, error=error,
                                  status=status, app_name=req.client_name, app_logo=req.logo_uri)
    response.headers.update(_back_to_app(req))
    return response


async def _second_factor(web: Web, request: Request, req: core.AuthorizationRequest, form: Params) -> Response:
    """The code page posted back: a right code logs in (and counts as the fresh login prompt=login and
    max_age ask for); a wrong one shows the page again; a stale page goes back to the password."""
    out = await second_factor.complete(web, request, form)
    if out.expired:
        return _login_page(web, request, req, error=_(second_factor.EXPIRED), status=400)
    if out.token is None:
        return _second_factor_page(web, request, req, second_factor.blob_of(form) or "", error=out.error,
                                   status=out.status)
    return await _logged_in(web, request, req, out.token)


async def _logged_in(web: Web, request: Request, req: core.AuthorizationRequest, token: str,
                     decided: tuple[core.Outcome | core.AuthorizationError, Any] | None = None) -> Response:
    """A session has just started: carry on with the authorization request, bound to it (``decided``:
    already done in the login's own transaction)."""
    out, current = decided if decided is not None else await run_in_threadpool(_continue, web, req, token)
    if isinstance(out, core.AuthorizationError):
        response = _deliver_error(web, out)
    else:
        response = _outcome_response(web, request, out, current)
    web.set_cookie(response, SESSION_COOKIE, token)
    return response


def _approve(web: Web, req: core.AuthorizationRequest, cookie: str | None, yes: bool,
             accounts: list[str], ip: str) -> tuple[core.Outcome | None, Any]:
    p = web.provider
    with p.db.transaction() as s:
        current = sessions.current(s, cookie)
        if current is None:
            return None, None
        if not yes:
            raise core.deny(p, req)
        if req.bound_sid != current.sid:
            # Another person logged in since this page was shown: ask again, for them.
            return core.decide(p, s, req, current), current
        chosen = core.choose_accounts(s, current.user_id, req, accounts[:1000])
        if isinstance(chosen, core.NeedConsent):
            return chosen, current
        core.record_consent(p, s, current.user_id, chosen, ip)
        approved = core.AuthorizationRequest.from_dict({**chosen.to_dict(), "consent_given": True})
        return core.decide(p, s, approved, current), current


async def _consent(web: Web, request: Request, req: core.AuthorizationRequest, cookie: str | None,
                   yes: bool, accounts: list[str]) -> Response:
    try:
        out, current = await run_in_threadpool(_approve, web, req, cookie, yes, accounts, web.ip(request))
    except core.AuthorizationError as exc:
        return _deliver_error(web, exc)
    if out is None:
        # The session ended while the consent page was open: log in again.
        return _login_page(web, request, req)
    return _outcome_response(web, request, out, current)
