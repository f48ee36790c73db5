"""Verifying the email address: ``/account/email/verification`` (logged in: send a link, from My details) and
``/email/verify?token=…`` (the link from the mail: a page with one button; pressing it verifies the address).

The token is in the query string, which the access log leaves out (web/security.py); the confirming post
carries it in its body. The rules are accounts/verification.py's.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes import mail
from hospes.accounts import verification
from hospes.i18n import _
from hospes.oauth import errors
from hospes.web.clientarea import pages
from hospes.web.clientarea.gate import HOME, Ctx, page
from hospes.web.context import Web, form_expired, web_of
from hospes.web.http import first, query_params, read_form

# The confirming form's field for the link's token ("token" is the CSRF token's, as on every form).
FIELD = "verification"


@page
def send_verification(ctx: Ctx) -> Response:
    """Send a verification link to the logged-in user's address; back to My details, which says so."""
    if ctx.request.method != "POST":
        return ctx.redirect(HOME + "?action=details")
    try:
        with ctx.db.transaction() as s:
            made = verification.request(s, ctx.settings, ctx.current.user_id, ctx.ip)
            mail.record_history(s, made.user_id, made.mail, body=made.history_body)
    except verification.VerificationError as exc:
        status = 429 if isinstance(exc, verification.TooManyLinks) else 400
        return pages.details(ctx, status=status, verification_error=str(exc))
    response = ctx.redirect(HOME + "?action=details", verification="sent")
    # After the answer: the page does not wait on the mail server.
    response.background = BackgroundTask(mail.send, ctx.settings, made.mail)
    return response


def _gone(web: Web) -> Response:
    return web.pages.render("error.html", status=400, heading=_("This link no longer works"),
                            message=_(verification.LINK_GONE), code="link_expired",
                            hint=_("Log in and ask for a new link from My details."))


def _pending(web: Web, token: str) -> str | None:
    with web.provider.db.read() as s:
        return verification.pending_address(s, token)


def _complete(web: Web, token: str, ip: str) -> None:
    with web.provider.db.transaction() as s:
        verification.complete(s, token, ip)


async def verify(request: Request) -> Response:
    """The link from the mail. GET shows the address and a button, and changes nothing (mail scanners fetch
    links); the button's post verifies the address."""
    web = web_of(request)
    action = web.path(verification.VERIFY_PATH)
    try:
        query = query_params(request)
        form = await read_form(request, required=False)
    except errors.OAuthError:
        # Not a link we sent, nor a form this page made.
        return _gone(web)
    if request.method == "GET":
        token = first(query, "token") or ""
        address = await run_in_threadpool(_pending, web, token)
        if address is None:
            return _gone(web)
        return web.render_form(request, "account/verify_email.html", action=action, address=address,
                               field=FIELD, verification=token)
    if not web.csrf_ok(request, first(form, "token")):
        return form_expired(web, request)
    try:
        await run_in_threadpool(_complete, web, first(form, FIELD) or "", web.ip(request))
    except verification.LinkInvalid:
        return _gone(web)
    return web.pages.render("message.html", heading=_("Your email address is verified"),
                            message=_("Thank you: applications you sign in to with this account now see it as "
                                    "verified."), link=web.path(HOME), link_text=_("Go to the client area"))
