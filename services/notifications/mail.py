"""The mail itself: an `EmailMessage` with a plain-text and an HTML part, sent through SMTP (docs/alert-channels.md §2)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.notifications.deliveries import MailText
from services.notifications.settings import MailSettings

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "mail"), autoescape=select_autoescape(default=True, default_for_string=True)
)


class MailNotConfigured(Exception):
    """No SMTP host is set: the mail waits (docs/alert-channels.md §2)."""


def message_id(delivery_id: uuid.UUID, sender: str) -> str:
    """The Message-ID of a delivery: the same for every try, so a mail sent again after a crash is recognisably the same one."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "reko.invalid"
    return f"<{delivery_id}@{domain}>"


def build_message(text: MailText, *, delivery_id: uuid.UUID, to: str, sender: str, date: datetime) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = text.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(delivery_id, sender)
    # The digest and the urgent mail are sent by a machine; auto-replies should not answer them (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text.plain_text())
    message.add_alternative(_TEMPLATES.get_template("alerts.html").render(text=text), subtype="html")
    return message


def _send_blocking(message: EmailMessage, settings: MailSettings) -> None:
    timeout = settings.timeout_seconds
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password.get_secret_value())
        smtp.send_message(message)


async def send(message: EmailMessage, settings: MailSettings) -> None:
    """Send through the configured SMTP server within the timeout (the socket's and, around it, the whole exchange's)."""
    if not settings.host:
        raise MailNotConfigured("no SMTP host configured")
    # smtplib blocks; a thread keeps the event loop (the consumer, the webhooks) running meanwhile.
    await asyncio.wait_for(asyncio.to_thread(_send_blocking, message, settings), timeout=settings.timeout_seconds * 4)


def failure_reason(problem: BaseException) -> str:
    """What went wrong, in words safe to store and show: the SMTP code and class, never the server's text about the message."""
    if isinstance(problem, smtplib.SMTPResponseException):
        return f"SMTP {problem.smtp_code} ({type(problem).__name__})"
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        return "SMTP recipient refused"
    if isinstance(problem, TimeoutError):
        return "timed out"
    return type(problem).__name__
