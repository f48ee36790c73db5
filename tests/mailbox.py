"""A real SMTP server for tests (aiosmtpd), keeping what it receives: the ``smtp`` fixture in conftest.py."""

from __future__ import annotations

import email
import time
from email.header import decode_header
from email.message import Message
from typing import Any


class Inbox:
    """An aiosmtpd handler: the messages and envelopes received, in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout: float = 15) -> list[Message]:
        """The messages, once at least ``count`` have arrived (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} mail(s) received, {count} expected"
        return self.messages


def part(message: Message, subtype: str = "plain") -> str:
    """A mail's text/<subtype> part, decoded (a mail is multipart/alternative: text and HTML, mail.py)."""
    for p in message.walk():
        if p.get_content_type() == f"text/{subtype}":
            payload = p.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(p.get_content_charset() or "utf-8")
    raise AssertionError(f"the mail has no text/{subtype} part: {message.get_content_type()}")


def text(message: Message) -> str:
    return part(message, "plain")


def header(message: Message, name: str) -> str:
    """A header as people read it: RFC 2047 encoded words decoded, and raw UTF-8 (SMTPUTF8, RFC 6532) too."""
    words = []
    for value, charset in decode_header(message[name]):
        if isinstance(value, bytes):
            value = value.decode("utf-8" if charset in (None, "unknown-8bit") else charset)
        words.append(value)
    return "".join(words)
