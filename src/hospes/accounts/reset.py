"""Changing a password: by the logged-in user (who must give the current one), or through a link sent by mail.

A reset link is single-use and lives ``RESET_TTL`` seconds; only the SHA-256 digest of its token is kept.
Asking for one never tells whether the address has an account: the page answers the same either way, the
work done is the same (a lookup, a throttle row) and the mail is sent after the answer. Setting a new
password through a link ends every session of the user and marks the address verified (the person read
the mail sent there); changing it while logged in ends all but the one in use. Neither touches two-factor
login: the next login still asks for the code.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hospes.accounts import mailed_links, sessions, throttle
from hospes.accounts.mailed_links import LinkMail
from hospes.accounts.passwords import check_strength, hash_password, verify_password
from hospes.accounts.service import find_user_by_email
from hospes.config import Settings
from hospes.i18n import _
from hospes.store.models import PasswordReset, User

RESET_TTL = 1800
# Where a reset link points: the token is the path's last part (the access log leaves it out, web/security.py).
LINK_PATH = "/password/reset/"
# Reset mails per address asked for and per caller; over it, no mail (and the same answer as always).
RESET_PER_EMAIL = throttle.Rule("reset-email", limit=5, window=900)
RESET_PER_ADDRESS = throttle.Rule("reset-address", limit=20, window=900)


class PasswordError(ValueError):
    """The new password, or the way it was asked for, is refused; the message is fit to show."""


class LinkInvalid(PasswordError):
    """The reset link is unknown, used or expired."""


def _check_new(new: str, confirm: str) -> None:
    if new != confirm:
        raise PasswordError(_("The two new passwords do not match."))
    if (reason := check_strength(new)) is not None:
        raise PasswordError(reason)


def _set(s: Session, user: User, new: str) -> None:
    user.password_hash = hash_password(new)
    # Links asked for before this change are for a password that is gone.
    mailed_links.use_up_unused(s, PasswordReset, user.id)
    throttle.clear(s, throttle.ACCOUNT, user.email.strip().lower())


def change(s: Session, *, user_id: int, current: str, new: str, confirm: str, keep_session_id: int) -> int:
    """Change the password of a logged-in user; every other session of theirs ends. Returns how many did."""
    user = s.get(User, user_id)
    if user is None:
        raise PasswordError(_("Your account was not found."))
    admission = throttle.admit(s, [(throttle.ACCOUNT, user.email.strip().lower())])
    if admission.refused:
        raise PasswordError(_("Too many wrong passwords. Please try again in %(wait)s.")
                            % {"wait": throttle.minutes(admission.wait)})
    if not verify_password(current, user.password_hash):
        # Its place stays as a failure: the caller commits even when this is raised.
        raise PasswordError(_("Your current password is not correct."))
    throttle.release(s, admission)
    _check_new(new, confirm)
    if verify_password(new, user.password_hash):
        raise PasswordError(_("The new password must be different from the current one."))
    _set(s, user, new)
    return sessions.sign_out_others(s, user.id, keep_session_id)


def request(s: Session, settings: Settings, email: str, ip: str) -> LinkMail | None:
    """Make a reset link for the account with this email, if there is one (and the caller is not over the
    limit). The caller sends the mail; whether there was one must not show in its answer."""
    email = email.strip()[:255]
    checks = [(RESET_PER_EMAIL, email.lower()), (RESET_PER_ADDRESS, ip)]
    # Every request counts, whether or not the address is known.
    throttled = throttle.admit(s, checks).refused
    user = find_user_by_email(s, email)
    if throttled or user is None or user.disabled:
        return None
    return link_for(s, settings, user, ip)


def link_for(s: Session, settings: Settings, user: User, ip: str) -> LinkMail:
    """A new reset link for ``user`` and its mail (the earlier links stop working): for ``request``, and for
    support staff who send one from the admin area. The caller records and sends the mail."""
    # One link at a time: asking again makes the earlier links useless.
    token = mailed_links.issue(s, PasswordReset, user.id, RESET_TTL, ip_address=ip[:64])
    link = settings.url(LINK_PATH + token)
    company = settings.company_name
    minutes = RESET_TTL // 60

    values = {"name": user.first_name or user.email, "company": company, "email": user.email, "minutes": minutes}
    before = [_("Hello %(name)s,") % values,
              _("Someone, hopefully you, asked to reset the password of your %(company)s account (%(email)s).")
              % values,
              _("To choose a new password, open this link within %(minutes)d minutes:") % values]
    after = [_("The link works once. If you did not ask for this, ignore this mail: your password stays as it is."),
             company]
    return mailed_links.compose(settings, user.email, _("Reset your %(company)s password") % values, user.id, link,
                                before=before, link_label=_("Choose a new password"), after=after)


def check_link(s: Session, token: str) -> bool:
    """Is this a reset link that still works?"""
    return mailed_links.find(s, PasswordReset, token) is not None


def complete(s: Session, token: str, new: str, confirm: str) -> int:
    """Set the new password through a reset link; the link is used up and every session of the user ends.
    Returns the user's id. A weak or mismatched password leaves the link usable."""
    row = mailed_links.find(s, PasswordReset, token)
    if row is None:
        raise LinkInvalid("This password reset link has expired or has already been used.")
    _check_new(new, confirm)
    claimed = mailed_links.claim(s, PasswordReset, row.id)
    user = s.get(User, row.user_id)
    if not claimed or user is None:
        raise LinkInvalid("This password reset link has expired or has already been used.")
    _set(s, user, new)
    # The link reached the person at this address (an address change voids the links sent before it,
    # accounts/service.py): the address is theirs.
    user.email_verified = True
    sessions.end_all_for_user(s, user.id)
    return user.id
