"""A local smarthost for the egress tests: an aiosmtpd Controller (its own thread) that hands
every message to Dovecot over LMTP and records each Message-ID it accepted, in order.
"""

from __future__ import annotations

import smtplib
import threading
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class LmtpDelivery:
    """aiosmtpd handler: 250 only once Dovecot took the message for every recipient."""

    def __init__(self, lmtp_port: int) -> None:
        self.lmtp_port = lmtp_port
        self.accepted: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self.changed = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message_id = str(BytesHeaderParser().parsebytes(data).get("Message-ID", ""))
        try:
            with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
                lmtp.sendmail(envelope.mail_from, envelope.rcpt_tos, data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return f"{code} {text.decode(errors='replace')}"
        except (OSError, smtplib.SMTPException) as exc:
            return f"451 4.3.0 LMTP delivery failed: {exc}"
        with self.changed:
            self.accepted += [(rcpt, message_id) for rcpt in envelope.rcpt_tos]
            self.changed.notify_all()
        return "250 2.0.0 Delivered"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, str]]:
        """Block until ``count`` deliveries were accepted (an event, not a sleep)."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.accepted) >= count, timeout):
                raise TimeoutError(f"{len(self.accepted)} of {count} deliveries within {timeout} s")
            return list(self.accepted)


def start_smarthost(lmtp_port: int, port: int) -> tuple[Controller, LmtpDelivery]:
    handler = LmtpDelivery(lmtp_port)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler
