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

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes import audit
from hospes.accounts import throttle
from hospes.clock import now, utc
from hospes.config import Settings
from hospes.mail import Mail
from hospes.secrets import digest, new_token
from hospes.store.models import EmailVerification, User

VERIFY_TTL = 86400
VERIFY_PATH = "/email/verify"
VERIFY_PER_USER = throttle.Rule("verify-email", limit=3, window=3600)
LINK_REMOVED = "(The link is left out of this copy: it works only once and only from the mail.)"
LINK_GONE = ("This verification link has expired, has already been used, or was sent to an address that is no "
             "longer the one on your account.")


class VerificationError(ValueError):
    """A link cannot be sent or used; the message is fit to show."""


class TooManyLinks(VerificationError):
    """Over ``VERIFY_PER_USER``: no link this time."""


class LinkInvalid(VerificationError):
    """The link is unknown, used, expired, or for an address that is no longer the user's."""


@dataclass(frozen=True)
class VerificationMail:
    user_id: int
    mail: Mail
    # What the client area's email history keeps: the mail without its link.
    history_body: str


def request(s: Session, settings: Settings, user_id: int, ip: str) -> VerificationMail:
    """Make a verification link for the user's current address. The caller records the history and sends
    the mail; the caller's transaction must be committed for the link to work."""
    user = s.get(User, user_id)
    if user is None or user.disabled:
        raise VerificationError("Your account was not found.")
    if user.email_verified:
        raise VerificationError("Your email address is already verified.")
    admission = throttle.admit(s, [(VERIFY_PER_USER, str(user.id))])
    if admission.refused:
        raise TooManyLinks("We have sent several verification links already. Please use the newest one, "
                                f"or ask again in {throttle.minutes(admission.wait)}.")
    t = now()
    # One link at a time: asking again makes the earlier links useless.
    s.execute(update(EmailVerification)
              .where(EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None))
              .values(used_at=t))
    token = new_token()
    s.add(EmailVerification(token_hash=digest(token), user_id=user.id, email=user.email, created_at=t,
                            expires_at=t + timedelta(seconds=VERIFY_TTL)))
    audit.entry(s, f"user:{user.id}", "user.email_verification_sent", f"user:{user.id}", ip=ip, email=user.email)
    link = settings.url(VERIFY_PATH + "?" + urlencode({"token": token}))
    company = settings.company_name
    hours = VERIFY_TTL // 3600

    def body(link_text: str) -> str:
        return (f"Hello {user.first_name or user.email},\n\n"
                f"To confirm that {user.email} is the address of your {company} account, open this link "
                f"within {hours} hours:\n\n{link_text}\n\n"
                "The link works once. If you did not ask for this, ignore this mail.\n\n"
                f"{company}\n")

    mail = Mail(to=user.email, subject=f"Verify your {company} email address", body=body(link))
    return VerificationMail(user_id=user.id, mail=mail, history_body=body(LINK_REMOVED))


def _find(s: Session, token: str) -> tuple[EmailVerification, User] | None:
    if not token or len(token) > 100:
        return None
    row = s.scalar(select(EmailVerification).where(EmailVerification.token_hash == digest(token)))
    if row is None or row.used_at is not None or utc(row.expires_at) <= now():
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
    # Single use, atomically: of two posts of the same link only one wins.
    claimed = s.execute(update(EmailVerification)
                        .where(EmailVerification.id == row.id, EmailVerification.used_at.is_(None))
                        .values(used_at=now()))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid(LINK_GONE)
    user.email_verified = True
    audit.entry(s, f"user:{user.id}", "user.email_verified", f"user:{user.id}", ip=ip, email=user.email,
                via="link")
    return user.id
