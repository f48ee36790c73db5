"""Verifying a user's email address: a single-use link sent to it, living ``VERIFY_TTL`` seconds.

Only the SHA-256 digest of the link's token is kept, beside the address it was sent to: the link verifies
that address and no other, so once the user's address has changed it is void. Asking for a link is for a
logged-in user, at most ``VERIFY_PER_USER`` an hour; asking again makes the earlier links useless. The
token travels in the query string (``/email/verify?token=…``), which the access log never writes
(web/security.py), and the page it opens asks for a press of a button before anything changes, so a mail
scanner that fetches the link does not use it up. Other ways a person proves they read mail at the
address (a completed password reset, accounts/reset.py) and the operator's word (the CLI, the admin API,
accounts/service.py) set ``users.email_verified`` directly.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.orm import Session

from hospes import audit
from hospes.accounts import mailed_links, throttle
from hospes.accounts.mailed_links import LinkMail
from hospes.config import Settings
from hospes.i18n import N_, _
from hospes.store.models import EmailVerification, User

VERIFY_TTL = 86400
VERIFY_PATH = "/email/verify"
VERIFY_PER_USER = throttle.Rule("verify-email", limit=3, window=3600)
LINK_GONE = N_("This verification link has expired, has already been used, or was sent to an address that is no "
             "longer the one on your account.")


class VerificationError(ValueError):
    """A link cannot be sent or used; the message is fit to show."""


class TooManyLinks(VerificationError):
    """Over ``VERIFY_PER_USER``: no link this time."""


class LinkInvalid(VerificationError):
    """The link is unknown, used, expired, or for an address that is no longer the user's."""


def request(s: Session, settings: Settings, user_id: int, ip: str) -> LinkMail:
    """Make a verification link for the user's current address. The caller records the history and sends
    the mail; the caller's transaction must be committed for the link to work."""
    user = s.get(User, user_id)
    if user is None or user.disabled:
        raise VerificationError(_("Your account was not found."))
    if user.email_verified:
        raise VerificationError(_("Your email address is already verified."))
    admission = throttle.admit(s, [(VERIFY_PER_USER, str(user.id))])
    if admission.refused:
        raise TooManyLinks(_("We have sent several verification links already. Please use the newest one, "
                             "or ask again in %(wait)s.") % {"wait": throttle.minutes(admission.wait)})
    # One link at a time: asking again makes the earlier links useless.
    token = mailed_links.issue(s, EmailVerification, user.id, VERIFY_TTL, email=user.email)
    audit.entry(s, f"user:{user.id}", "user.email_verification_sent", f"user:{user.id}", ip=ip, email=user.email)
    link = settings.url(VERIFY_PATH + "?" + urlencode({"token": token}))
    company = settings.company_name
    hours = VERIFY_TTL // 3600

    values = {"name": user.first_name or user.email, "company": company, "email": user.email, "hours": hours}
    before = [_("Hello %(name)s,") % values,
              _("To confirm that %(email)s is the address of your %(company)s account, open this link within "
                "%(hours)d hours:") % values]
    after = [_("The link works once. If you did not ask for this, ignore this mail."), company]
    return mailed_links.compose(settings, user.email, _("Verify your %(company)s email address") % values, user.id,
                                link, before=before, link_label=_("Verify my email address"), after=after)


def _find(s: Session, token: str) -> tuple[EmailVerification, User] | None:
    row = mailed_links.find(s, EmailVerification, token)
    if row is None:
        return None
    user = s.get(User, row.user_id)
    if user is None or user.disabled or user.email.lower() != row.email.lower():
        return None
    return row, user


def pending_address(s: Session, token: str) -> str | None:
    """The address this link would verify, while it still works."""
    found = _find(s, token)
    return found[0].email if found else None


def complete(s: Session, token: str, ip: str) -> int:
    """Use the link: the address it was sent to is verified. Returns the user's id."""
    found = _find(s, token)
    if found is None:
        raise LinkInvalid(LINK_GONE)
    row, user = found
    if not mailed_links.claim(s, EmailVerification, row.id):
        raise LinkInvalid(LINK_GONE)
    user.email_verified = True
    audit.entry(s, f"user:{user.id}", "user.email_verified", f"user:{user.id}", ip=ip, email=user.email,
                via="link")
    return user.id
