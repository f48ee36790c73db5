"""Outgoing mail: through SMTP when ``HOSPES_SMTP_URL`` is set, otherwise written as ``.eml`` files into
``<var_dir>/outbox/`` (where a developer, or a test, reads them).

A mail has a plain-text body and, beside it, the same words as HTML (multipart/alternative, RFC 2046 §5.1.4)
with the company's name and logo: ``html_body`` renders ``mail/message.html`` (autoescaped; the operator's
template folder may replace it, docs/BRANDING.md).

Sending is the last step of a request and may be slow or fail; callers hand it to a background task so a
page does not wait on (or reveal anything through) the mail server. A failure is logged, never raised.
"""

from __future__ import annotations

import functools
import logging
import os
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hospes import branding, i18n
from hospes.clock import now
from hospes.config import Settings
from hospes.store.accounts import client_ids
from hospes.store.models import EmailMessage
from hospes.templating import environment

log = logging.getLogger("hospes.mail")

SMTP_TIMEOUT = 30


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    # The same words as an HTML document, sent as the alternative to ``body``; None: text only.
    html: str | None = None


def outbox(settings: Settings) -> Path:
    return Path(settings.var_dir) / "outbox"


def compose(settings: Settings, mail: Mail) -> MimeMessage:
    msg = MimeMessage()
    msg["From"] = settings.mail_sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.mail_sender.rpartition("@")[2].rstrip(">") or None)
    msg.set_content(mail.body)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg


@functools.cache
def _templates(template_dir: str | None) -> Any:
    return environment(template_dir)


def html_body(settings: Settings, subject: str, paragraphs: Sequence[str], *, link: str | None = None,
              link_label: str = "", after: Sequence[str] = ()) -> str:
    """A mail's HTML part: the company's name and logo, the paragraphs, a link as a button, more paragraphs.
    Every value is escaped by the template (autoescape)."""
    logo = settings.brand_logo
    return str(_templates(settings.template_dir).get_template("mail/message.html").render(
        lang=i18n.current(), company_name=settings.company_name, logo=settings.absolute(logo.url) if logo else None,
        brand_color=settings.brand_color, brand_text=branding.text_on(settings.brand_color), subject=subject,
        paragraphs=list(paragraphs), link=link,
        link_label=link_label, after=list(after)))


def _write_outbox(settings: Settings, msg: MimeMessage) -> Path:
    folder = outbox(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
    tmp = folder / ("." + name + ".tmp")
    # Mail may carry a one-time link: readable by the owner only; renamed into place whole.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bytes(msg))
    path = folder / name
    os.replace(tmp, path)
    return path


def _send_smtp(settings: Settings, msg: MimeMessage) -> None:
    server = settings.smtp
    assert server is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.security == "tls":
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
    with smtp:
        if server.security == "starttls":
            smtp.starttls(context=context)
        if server.username is not None:
            smtp.login(server.username, server.password or "")
        smtp.send_message(msg)


def send(settings: Settings, mail: Mail) -> bool:
    """Deliver one mail; True when it was handed over (to the SMTP server, or to the outbox)."""
    msg = compose(settings, mail)
    try:
        if settings.smtp is not None:
            _send_smtp(settings, msg)
        else:
            _write_outbox(settings, msg)
    except (OSError, smtplib.SMTPException) as exc:
        # Never the body: it may hold a one-time link.
        log.error("could not send mail %r to %s: %s", mail.subject, mail.to, exc)
        return False
    return True


def record_history(s: Session, user_id: int, mail: Mail, *, body: str | None = None) -> None:
    """The client area's email history: one row per client account the user reaches. ``body`` replaces
    the mail's own when that must not be kept (a one-time link would be readable there by other users)."""
    t = now()
    for client_id in client_ids(s, user_id):
        s.add(EmailMessage(client_id=client_id, to_address=mail.to[:255], subject=mail.subject[:255],
                           body=mail.body if body is None else body, sent_at=t))
