"""Single-use links sent by mail (password reset, email verification): one rule for making, finding and
using them.

Only the SHA-256 digest of a link's token is stored. A user has one working link of a kind at a time:
making a new one uses up the earlier ones. Using a link is an atomic ``UPDATE … WHERE used_at IS NULL``,
so of two posts of the same link only one wins. The mail's copy kept in the email history leaves the link
out, since it works only once and only from the mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.config import Settings
from hospes.i18n import N_, _
from hospes.mail import Mail, html_body
from hospes.secrets import digest, new_token

LINK_REMOVED = N_("(The link is left out of this copy: it works only once and only from the mail.)")
# Longer than any token new_token() makes; a longer value is not looked up.
_MAX_TOKEN = 100


class LinkRow(Protocol):
    """The columns every table of mailed links has (store/models.py)."""

    id: Any
    user_id: Any
    token_hash: Any
    used_at: Any
    expires_at: Any


@dataclass(frozen=True)
class LinkMail:
    """A mail carrying a link, for the caller to record in the email history and send after its commit."""

    user_id: int
    mail: Mail
    # What the client area's email history keeps: the mail without its link.
    history_body: str


def use_up_unused(s: Session, table: type[LinkRow], user_id: int) -> None:
    """Every link of this kind the user has not used stops working."""
    s.execute(update(table).where(table.user_id == user_id, table.used_at.is_(None)).values(used_at=now()))


def issue(s: Session, table: Callable[..., LinkRow], user_id: int, ttl: int, **columns: Any) -> str:
    """A new link's token for the user (earlier unused ones stop working); the row holds its digest."""
    use_up_unused(s, table, user_id)  # type: ignore[arg-type]
    token = new_token()
    t = now()
    s.add(table(token_hash=digest(token), user_id=user_id, created_at=t, expires_at=t + timedelta(seconds=ttl),
                **columns))
    return token


def compose(settings: Settings, to: str, subject: str, user_id: int, link: str, *, before: list[str],
            link_label: str, after: list[str]) -> LinkMail:
    """The mail with its link (paragraphs ``before`` it and ``after`` it; the HTML part shows it as a button
    labelled ``link_label``), and the history's copy with ``LINK_REMOVED`` in its place."""

    def text(link_text: str) -> str:
        return "\n\n".join([*before, link_text, *after]) + "\n"

    html = html_body(settings, subject, before, link=link, link_label=link_label, after=after)
    return LinkMail(user_id=user_id, mail=Mail(to=to, subject=subject, body=text(link), html=html),
                    history_body=text(_(LINK_REMOVED)))


def find(s: Session, table: type[LinkRow], token: str) -> Any | None:
    """The row of a link that still works (unused, not expired), or None."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = s.scalar(select(table).where(table.token_hash == digest(token)))
    if row is None or row.used_at is not None or utc(row.expires_at) <= now():
        return None
    return row


def claim(s: Session, table: type[LinkRow], row_id: int) -> bool:
    """Use the link up; False when another request used it first."""
    claimed = s.execute(update(table).where(table.id == row_id, table.used_at.is_(None)).values(used_at=now()))
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
