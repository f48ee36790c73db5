"""``/account/security``: two-factor login with an authenticator app (TOTP).

Off: a button to set it up. Setting up: a QR code and the secret as text, and a field for the first code;
a right code turns it on and shows ten backup codes, once. On: how many backup codes are left, a form to
get new ones, and a form to turn it off; both ask for a current code. Wrong codes count against the user
(twofactor.SECOND_FACTOR), as at login.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hospes.accounts import twofactor
from hospes.i18n import _, ngettext
from hospes.web.account.second_factor import keys
from hospes.web.clientarea.gate import Ctx, page

PATH = "/account/security"


def _wait_message(wait: int) -> str:
    minutes = max(1, (wait + 59) // 60)
    return ngettext("Too many wrong codes. Please wait %(n)d minute and try again.",
                    "Too many wrong codes. Please wait %(n)d minutes and try again.", minutes) % {"n": minutes}


def _refused(checked: twofactor.Checked) -> tuple[str, int]:
    if checked.wait:
        return _wait_message(checked.wait), 429
    return _("That code is not correct, or it has already been used. Enter the code your app shows now."), 401


def _show(ctx: Ctx, status: int = 200, error: str | None = None, **extra: Any) -> Response:
    with ctx.db.read() as s:
        st = twofactor.status(s, keys(ctx.web), ctx.current.user_id)
    context: dict[str, Any] = {"enrolled": st.enrolled, "backup_left": st.backup_codes_left, "pending": False}
    if st.pending_secret:
        uri = twofactor.provisioning_uri(st.pending_secret, ctx.current.email, ctx.settings.company_name)
        context.update(pending=True, qr=twofactor.qr_data_uri(uri), secret=twofactor.grouped(st.pending_secret))
    context.update(extra)
    return ctx.render("account/security.html", "security", status=status, error=error, **context)


def _codes_page(ctx: Ctx, codes: list[str], fresh: bool) -> Response:
    return ctx.render("account/backup_codes.html", "security", codes=codes, fresh=fresh)


def _post(ctx: Ctx) -> Response:
    action = ctx.field("action")
    code = ctx.field("code")[:64]
    user_id = ctx.current.user_id
    k = keys(ctx.web)
    with ctx.db.transaction() as s:
        if action == "begin":
            if twofactor.is_enrolled(s, user_id):
                return ctx.redirect(PATH)
            twofactor.begin(s, k, user_id)
            return ctx.redirect(PATH)
        if action == "cancel":
            twofactor.cancel(s, user_id)
            return ctx.redirect(PATH)
        if action == "confirm":
            checked, codes = twofactor.confirm(s, k, user_id, code)
            if checked.ok:
                ctx.audit(s, "two_factor.enabled", f"user:{user_id}")
                return _codes_page(ctx, codes, fresh=True)
        elif action == "disable":
            checked = twofactor.disable(s, k, user_id, code)
            if checked.ok:
                ctx.audit(s, "two_factor.disabled", f"user:{user_id}", method=checked.method)
                return ctx.redirect(PATH, turned_off=1)
        elif action == "regenerate":
            checked, codes = twofactor.regenerate_backup_codes(s, k, user_id, code)
            if checked.ok:
                ctx.audit(s, "two_factor.backup_codes_renewed", f"user:{user_id}")
                return _codes_page(ctx, codes, fresh=False)
        else:
            return ctx.message(400, _("Unknown request"),
                               _("That form is not one this page knows. Nothing was changed."), "security")
    # A wrong code: the failure was counted (committed above); show the form again with the reason.
    error, status = _refused(checked)
    return _show(ctx, status=status, error=error, failed=action)


@page
def security(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        return _post(ctx)
    return _show(ctx, turned_off=ctx.arg("turned_off") == "1")
