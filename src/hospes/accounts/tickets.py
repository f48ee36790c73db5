"""Support tickets as a customer opens them: the rules for a subject and a message, and the operation that
stores a new ticket with its audit entry. Reading a client account's records is store/records.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now
from hospes.i18n import _
from hospes.store.records import ReplyRow, insert_reply, insert_ticket
from hospes.store.values import forbidden_character

SUBJECT_MAX = 255
MESSAGE_MAX = 20_000


def check_ticket(subject: str, message: str) -> tuple[str, str, dict[str, str]]:
    """The ticket's subject and message as stored, and an error per field (``subject``, ``message``) that
    needs fixing."""
    subject = subject.strip()
    # One line for the subject; the message keeps line breaks and tabs, and nothing else below space.
    message = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    problems: dict[str, str] = {}
    if not subject:
        problems["subject"] = _("Enter a subject.")
    elif len(subject) > SUBJECT_MAX:
        problems["subject"] = _("The subject must be at most %(n)d characters.") % {"n": SUBJECT_MAX}
    elif forbidden_character(subject) is not None:
        problems["subject"] = _("The subject must be a single line of text.")
    if not message:
        problems["message"] = _("Enter a message.")
    elif len(message) > MESSAGE_MAX:
        problems["message"] = _("The message must be at most %(n)d characters.") % {"n": MESSAGE_MAX}
    elif forbidden_character(message, multiline=True) is not None:
        problems["message"] = _("The message contains characters that cannot be stored.")
    return subject, message, problems


def check_message(message: str) -> tuple[str, dict[str, str]]:
    """A reply's message as stored, and an error (``message``) when it needs fixing: a ticket's message rules."""
    _, stored, problems = check_ticket("reply", message)
    return stored, problems


# WHMCS's status of a ticket the customer answered last (https://docs.whmcs.com/support/support-ticket-statuses/).
CUSTOMER_REPLY = "Customer-Reply"


def open_ticket(s: Session, client_id: int, *, subject: str, message: str, actor: str, ip: str = "",
                **via: Any) -> int:
    """A new Open ticket on the account, with the subject and message ``check_ticket`` returned (the caller
    shows its problems first); records ``ticket.opened`` (``via``: the application that acted, if one did).
    Returns its id."""
    ticket_id = insert_ticket(s, client_id, subject=subject, message=message)
    audit.entry(s, actor, "ticket.opened", f"client:{client_id}", ip=ip, ticket_id=ticket_id, subject=subject,
                **via)
    return ticket_id


def reply(s: Session, client_id: int, ticket_id: int, *, user_id: int, message: str, actor: str, ip: str = "",
          **via: Any) -> ReplyRow:
    """The person's reply (with the message ``check_message`` returned) to a ticket of the account, which is
    then awaits the staff's answer; records ``ticket.replied``."""
    added = insert_reply(s, ticket_id, user_id=user_id, message=message, status=CUSTOMER_REPLY, at=now())
    audit.entry(s, actor, "ticket.replied", f"client:{client_id}", ip=ip, ticket_id=ticket_id, reply_id=added.id,
                **via)
    return added
