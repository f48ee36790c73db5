"""Support tickets as a customer opens them: the rules for a subject and a message, and the operation that
stores a new ticket with its audit entry. Reading a client account's records is store/records.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hospes import audit
from hospes.store.records import insert_ticket
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
        problems["subject"] = "Enter a subject."
    elif len(subject) > SUBJECT_MAX:
        problems["subject"] = f"The subject must be at most {SUBJECT_MAX} characters."
    elif forbidden_character(subject) is not None:
        problems["subject"] = "The subject must be a single line of text."
    if not message:
        problems["message"] = "Enter a message."
    elif len(message) > MESSAGE_MAX:
        problems["message"] = f"The message must be at most {MESSAGE_MAX} characters."
    elif forbidden_character(message, multiline=True) is not None:
        problems["message"] = "The message contains characters that cannot be stored."
    return subject, message, problems


def open_ticket(s: Session, client_id: int, *, subject: str, message: str, actor: str, ip: str = "") -> int:
    """A new Open ticket on the account, with the subject and message ``check_ticket`` returned (the caller
    shows its problems first); records ``ticket.opened``. Returns its id."""
    ticket_id = insert_ticket(s, client_id, subject=subject, message=message)
    audit.entry(s, actor, "ticket.opened", f"client:{client_id}", ip=ip, ticket_id=ticket_id, subject=subject)
    return ticket_id
