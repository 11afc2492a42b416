"""Outgoing e-mail through the SMTP server in the settings.

Without `MAIL_SERVER` nothing is sent: the message is logged, so that a development install
works without a mail server. Every message sent or skipped is also appended to
`app.extensions["practicum_outbox"]` under `TESTING`, for tests to read.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

__all__ = ["send_mail"]

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text message to one address with the app's SMTP settings."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config.get("MAIL_SENDER") or "practicum@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if config.get("TESTING"):
        current_app.extensions.setdefault("practicum_outbox", []).append(message)
    server = config.get("MAIL_SERVER")
    if not server:
        log.info("No MAIL_SERVER set; not sending %r to %s", subject, to)
        return
    port = int(config.get("MAIL_PORT") or 25)
    with smtplib.SMTP(server, port, timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
