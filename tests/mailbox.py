"""A real SMTP server for tests (aiosmtpd), keeping what it receives: the ``smtp`` fixture in conftest.py."""

from __future__ import annotations

import email
import time
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
